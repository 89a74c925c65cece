"""Malformed webhooks get a 4xx naming what is wrong, never a 5xx (which Alertmanager retries)."""

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from bridge.store import SQLiteStore
from bridge.web.app import create_app
from tests.support.bridge import ConfigWriter, auth_headers
from tests.support.fixtures import body

Payload = dict[str, Any]


def edited(change: Callable[[Payload], None]) -> bytes:
    """The captured firing webhook, changed, as JSON (escapes kept: ``\\ud800`` stays one)."""
    data = body("firing-single-bearer")
    change(data)
    return json.dumps(data).encode()


def label(name: str, value: str) -> Callable[[Payload], None]:
    def change(data: Payload) -> None:
        data["alerts"][0]["labels"][name] = value

    return change


def alert_field(name: str, value: Any) -> Callable[[Payload], None]:
    def change(data: Payload) -> None:
        data["alerts"][0][name] = value

    return change


def top(name: str, value: Any) -> Callable[[Payload], None]:
    def change(data: Payload) -> None:
        data[name] = value

    return change


HUGE_INTEGER = b'{"version": "4", "truncatedAlerts": ' + b"9" * 5000 + b"}"

CASES = [
    # (id, body, status, words the error must contain)
    (
        "lone surrogate in a label used in the URL path",
        edited(label("model", "\ud800")),
        400,
        "alerts[0].labels.model",
    ),
    (
        "lone surrogate in the fingerprint",
        edited(alert_field("fingerprint", "ab\udc00")),
        400,
        "alerts[0].fingerprint",
    ),
    ("integer of more than 4,300 digits", HUGE_INTEGER, 400, "body is not valid JSON"),
    ("truncatedAlerts of 2**63", edited(top("truncatedAlerts", 2**63)), 400, "truncatedAlerts"),
    (
        "startsAt overflowing UTC",
        edited(alert_field("startsAt", "9999-12-31T23:59:59-23:59")),
        400,
        "alerts[0].startsAt",
    ),
    (
        "endsAt overflowing UTC",
        edited(alert_field("endsAt", "9999-12-31T23:59:59-23:59")),
        400,
        "alerts[0].endsAt",
    ),
    (
        "NUL in a label value",
        edited(label("model", "fraud\u0000detector")),
        400,
        "alerts[0].labels.model",
    ),
]


@pytest.fixture
def client(write_config: ConfigWriter, config_data: dict[str, Any]) -> FlaskClient:
    """A bridge whose webhook target puts the model label in its URL path."""
    config_data["targets"]["hook"]["url"] = "http://127.0.0.1:9/hook/{{ labels.model }}"
    config = write_config(config_data)
    return create_app(config, SQLiteStore(config.store_path)).test_client()


@pytest.mark.parametrize(
    ("raw", "status", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_malformed_webhooks_get_a_4xx_naming_the_problem(
    client: FlaskClient, raw: bytes, status: int, words: str
) -> None:
    headers = {**auth_headers(), "Content-Type": "application/json"}
    response = client.post("/alerts", data=raw, headers=headers)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert words in response.get_json()["error"]


def test_a_chunked_body_over_the_limit_gets_413_not_a_parse_error(
    client: FlaskClient, tmp_path: Path
) -> None:
    limit = client.application.config["MAX_CONTENT_LENGTH"]
    raw = edited(alert_field("generatorURL", "x" * (limit + 10)))
    response = client.post(
        "/alerts",
        input_stream=io.BytesIO(raw),
        headers={
            **auth_headers(),
            "Content-Type": "application/json",
            "Transfer-Encoding": "chunked",
        },
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert "max_body_bytes" in response.get_json()["error"]

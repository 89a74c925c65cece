"""Log lines a webhook cannot forge: escaped, quoted, capped; and a JSON format."""

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from bridge.cli import build_parser
from bridge.logs import configure
from bridge.store import SQLiteStore
from bridge.web.app import create_app
from demo.harness.processes import Process, free_port, venv_script
from tests.support.bridge import ConfigWriter, auth_headers
from tests.support.fixtures import body

FORGED = "2026-11-27 03:00:00,000 INFO bridge.dispatcher: dispatch_id=drb-0 outcome=success"


@pytest.fixture
def logged() -> Iterator[io.StringIO]:
    """What the bridge logs, as ``serve`` configures it (text)."""
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure("info", "text", stream)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def client(write_config: ConfigWriter, config_data: dict[str, Any]) -> FlaskClient:
    config = write_config(config_data)
    return create_app(config, SQLiteStore(config.store_path)).test_client()


def post(client: FlaskClient, data: dict[str, Any]) -> int:
    return client.post("/alerts", json=data, headers=auth_headers()).status_code


def test_a_crafted_fingerprint_cannot_start_a_line_nor_pose_as_a_field(
    client: FlaskClient, logged: io.StringIO
) -> None:
    data = body("firing-single-bearer")
    data["alerts"][0]["fingerprint"] = f"b78f\n{FORGED}"
    data["groupKey"] = '{}:{model="x"} outcome=success\u202e\u0007'
    assert post(client, data) == 200
    lines = logged.getvalue().splitlines()
    assert lines
    assert not any(line.startswith("2026-11-27 03:00:00,000") for line in lines)
    decision = next(line for line in lines if "decision=new_episode" in line)
    assert f'fingerprint="b78f\\\\n{FORGED}"' in decision
    text = logged.getvalue()
    assert "\u202e" not in text
    assert "\u0007" not in text


def test_a_huge_value_in_a_rejected_payload_makes_a_short_line(
    client: FlaskClient, logged: io.StringIO
) -> None:
    data = body("firing-single-bearer")
    data["alerts"][0]["startsAt"] = "x" * 100_000
    assert post(client, data) == 400
    line = next(line for line in logged.getvalue().splitlines() if "rejected a webhook" in line)
    assert len(line) < 1000
    assert "...(+" in line


def test_the_command_line_chooses_json_logs() -> None:
    assert build_parser().parse_args(["--log.format=json", "check-config"]).log_format == "json"


def test_json_logs_are_one_object_per_line_with_the_message_escaped(
    client: FlaskClient,
) -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure("info", "json", stream)
    try:
        data = body("firing-single-bearer")
        data["alerts"][0]["fingerprint"] = f"b78f\u202e\n{FORGED}"
        assert post(client, data) == 200
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    decision = next(e for e in entries if "decision=new_episode" in e["message"])
    assert decision["level"] == "info"
    assert decision["logger"] == "bridge.intake"
    assert "\\u202e" in decision["message"]
    assert "\u202e" not in stream.getvalue()
    assert set(decision) == {"time", "level", "logger", "message"}


@pytest.mark.integration
def test_serve_with_json_logs_writes_only_json_lines_gunicorns_included(
    write_config: ConfigWriter, config_data: dict[str, Any], tmp_path: Path
) -> None:
    port = free_port()
    config_data["listen_address"] = f"127.0.0.1:{port}"
    config = write_config(config_data)
    argv = [
        venv_script("drift-bridge"),
        "--log.format=json",
        "serve",
        f"--config.file={config.file}",
    ]
    with Process("bridge", argv, tmp_path) as bridge:
        bridge.wait_http(f"http://127.0.0.1:{port}/readyz")
        data = body("firing-single-bearer")
        data["alerts"][0]["fingerprint"] = f"b78f\n{FORGED}"
        requests.post(
            f"http://127.0.0.1:{port}/alerts", json=data, headers=auth_headers(), timeout=10
        ).raise_for_status()
    lines = [line for line in bridge.logs().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    loggers = {entry["logger"] for entry in entries}
    assert "gunicorn.error" in loggers
    assert "bridge.intake" in loggers

"""Secrets: read as Alertmanager reads credentials files, refused when unusable, never shown."""

import base64
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from bridge.config import load_config
from bridge.config_reader import ConfigError
from bridge.store import SQLiteStore
from bridge.web.app import create_app
from demo.harness.processes import wait_until
from tests.support.bridge import TOKEN, ConfigWriter, Running, auth_headers
from tests.support.fakes.webhook import FakeWebhook
from tests.support.fixtures import body

TARGET_TOKEN = "tgt-9f8e7d6c5b4a"


def webhook_config(config_data: dict[str, Any], hook: FakeWebhook, secret: Path) -> None:
    config_data["targets"] = {
        "hook": {"type": "webhook", "url": hook.url, "bearer_token_file": str(secret)}
    }


def everything_shown(bridge: Running, dispatch_id: str, caplog: pytest.LogCaptureFixture) -> str:
    """The audit trail, the dispatch list and the log: everywhere a secret must never appear."""
    listed = bridge.client.get("/api/dispatches", headers=auth_headers()).get_data(as_text=True)
    trail = bridge.client.get(f"/api/dispatches/{dispatch_id}", headers=auth_headers())
    return listed + trail.get_data(as_text=True) + caplog.text


def test_a_secret_file_with_a_line_break_inside_is_refused_at_load_naming_the_file(
    write_config: ConfigWriter, config_data: dict[str, Any], token_file: Path
) -> None:
    token_file.write_text("first-half\nsecond-half\n")
    with pytest.raises(ConfigError) as raised:
        write_config(config_data)
    message = str(raised.value)
    assert f"auth.token_file: secret file {token_file}" in message
    assert "line break" in message
    assert "first-half" not in message
    assert "second-half" not in message


def test_a_secret_rewritten_with_a_line_break_fails_the_attempt_without_leaking_it(
    write_config: ConfigWriter,
    config_data: dict[str, Any],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = tmp_path / "target.token"
    secret.write_text(TARGET_TOKEN + "\n")
    with FakeWebhook() as hook:
        webhook_config(config_data, hook, secret)
        config = write_config(config_data)
        secret.write_text(f"{TARGET_TOKEN}\nX-Injected: yes\n")
        time.sleep(1.1)  # secrets are re-read once they are a second old
        with Running(config) as bridge:
            dispatch_id = bridge.fire()
            dead = bridge.wait_state(dispatch_id, "dead")
            shown = everything_shown(bridge, dispatch_id, caplog)
        assert hook.received == []
    assert f"secret file {secret}" in dead["last_error"]
    assert "line break" in dead["last_error"]
    assert TARGET_TOKEN not in shown
    assert "X-Injected" not in shown


@pytest.mark.parametrize("auth", ["bearer", "basic"])
def test_credentials_a_target_echoes_back_are_redacted_from_the_trail_and_the_log(
    write_config: ConfigWriter,
    config_data: dict[str, Any],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    auth: str,
) -> None:
    secret = tmp_path / "target.token"
    secret.write_text(TARGET_TOKEN)
    with FakeWebhook() as hook:
        hook.echo_headers = 400
        webhook_config(config_data, hook, secret)
        if auth == "basic":
            del config_data["targets"]["hook"]["bearer_token_file"]
            config_data["targets"]["hook"]["basic_auth"] = {
                "username": "bridge",
                "password_file": str(secret),
            }
        with Running(write_config(config_data)) as bridge:
            dispatch_id = bridge.fire()
            dead = bridge.wait_state(dispatch_id, "dead")
            shown = everything_shown(bridge, dispatch_id, caplog)
    assert "rejected a request with headers" in dead["last_error"]
    assert "<redacted>" in dead["last_error"]
    assert TARGET_TOKEN not in shown
    assert base64.b64encode(f"bridge:{TARGET_TOKEN}".encode()).decode() not in shown


def test_a_token_file_is_trimmed_of_all_whitespace_as_alertmanager_trims_credentials_file(
    write_config: ConfigWriter, config_data: dict[str, Any], token_file: Path
) -> None:
    token_file.write_text(f" \t{TOKEN} \t\r\n")
    config = write_config(config_data)
    client = create_app(config, SQLiteStore(config.store_path)).test_client()
    response = client.post("/alerts", json=body("firing-single-bearer"), headers=auth_headers())
    assert response.status_code == 200


def post(client: FlaskClient) -> tuple[int, str]:
    response = client.post("/alerts", json=body("firing-single-bearer"), headers=auth_headers())
    return response.status_code, response.get_data(as_text=True)


def refusal(client: FlaskClient, words: str) -> tuple[int, str]:
    """The first answer saying ``words`` (the secret is re-read once it is a second old)."""

    def probe() -> tuple[int, str] | None:
        answer = post(client)
        return answer if words in answer[1] else None

    return wait_until(probe, 5, f"an answer saying {words!r}")


def test_a_token_file_emptied_or_removed_while_running_gives_503_naming_it_logged_once(
    write_config: ConfigWriter,
    config_data: dict[str, Any],
    token_file: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = write_config(config_data)
    client = create_app(config, SQLiteStore(config.store_path)).test_client()
    assert post(client)[0] == 200
    token_file.write_text("")
    status, text = refusal(client, "is empty")
    assert status == 503
    assert f"secret file {token_file} is empty" in text
    assert post(client)[0] == 503
    token_file.unlink()
    status, text = refusal(client, "cannot read")
    assert status == 503
    assert str(token_file) in text
    assert post(client)[0] == 503
    problems = [r for r in caplog.records if r.levelno >= logging.ERROR and "secret" in r.message]
    assert len(problems) == 2, [r.message for r in problems]  # one per problem, not per request
    token_file.write_text(TOKEN)
    wait_until(lambda: post(client)[0] == 200 or None, 5, "the token to work again")


def test_listening_beyond_loopback_without_auth_is_refused_even_for_a_name_like_127(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bridge.yml"
    path.write_text(
        "listen_address: 127.0.0.1.nip.io:9912\n"
        "targets: {t: {type: command, command: [/bin/true]}}\n"
        "routes: [{name: r, target: t}]\n"
    )
    with pytest.raises(ConfigError, match="not loopback"):
        load_config(path)
    load_config(path, listen_address="127.0.0.2:9912")

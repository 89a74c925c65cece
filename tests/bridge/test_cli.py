"""drift-bridge replay and the dead-letter commands."""

import json
from pathlib import Path
from typing import Any

import pytest

from bridge.cli import main
from bridge.store import SQLiteStore
from bridge.web.app import create_app
from tests.support.bridge import ConfigWriter, auth_headers
from tests.support.fixtures import FIXTURES, body


def test_replay_shows_routes_and_exact_requests_and_sends_nothing(
    write_config: ConfigWriter,
    config_data: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_config(config_data)
    code = main(
        [
            "replay",
            str(FIXTURES / "firing-grouped.json"),
            f"--config.file={tmp_path / 'bridge.yml'}",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    first, second = report["alerts"]
    assert first["labels"]["model"] == "churn-classifier"
    (route,) = first["routes"]
    assert route["route"] == "retrain"
    assert route["request"]["method"] == "POST"
    assert route["request"]["url"] == "http://127.0.0.1:9/hook"
    assert route["request"]["json"]["parameters"]["MODEL"] == "churn-classifier"
    assert second["routes"][0]["request"]["json"]["parameters"]["MODEL"] == "fraud-detector"
    assert (
        not (tmp_path / "bridge.db").exists()
        or SQLiteStore(tmp_path / "bridge.db").list_dispatches(None, None, 10, 0) == []
    )


def test_replay_of_a_resolution_and_of_unmatched_alerts(
    write_config: ConfigWriter,
    config_data: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_config(config_data)
    payload = body("resolved-single-bearer")
    path = tmp_path / "resolved.json"
    path.write_text(json.dumps(payload))
    assert main(["replay", str(path), f"--config.file={tmp_path / 'bridge.yml'}"]) == 0
    (alert,) = json.loads(capsys.readouterr().out)["alerts"]
    assert alert["routes"][0]["action"] == "close the episode; nothing is sent"
    assert "request" not in alert["routes"][0]
    payload["alerts"][0]["labels"]["alertname"] = "DiskFull"
    path.write_text(json.dumps(payload))
    assert main(["replay", str(path), f"--config.file={tmp_path / 'bridge.yml'}"]) == 0
    assert json.loads(capsys.readouterr().out)["alerts"][0]["routes"] == "no route matches"


def test_replay_explains_a_bad_payload(
    write_config: ConfigWriter,
    config_data: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_config(config_data)
    path = tmp_path / "bad.json"
    path.write_text('{"version": "3", "alerts": []}')
    assert main(["replay", str(path), f"--config.file={tmp_path / 'bridge.yml'}"]) == 1
    assert "version: unsupported payload version '3'" in capsys.readouterr().err


def test_dead_letters_are_listed_shown_and_retried_from_the_command_line(
    write_config: ConfigWriter,
    config_data: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config_data["routes"][0]["parameters"]["TEAM"] = "{{ labels.team }}"
    config = write_config(config_data)
    client = create_app(config, SQLiteStore(config.store_path)).test_client()
    response = client.post("/alerts", json=body("firing-single-bearer"), headers=auth_headers())
    dispatch_id = response.get_json()["alerts"][0]["dispatch_id"]
    flag = f"--config.file={tmp_path / 'bridge.yml'}"

    assert main(["dispatches", flag, "list", "--state", "dead"]) == 0
    listing = capsys.readouterr().out
    assert dispatch_id in listing
    assert "model=fraud-detector" in listing

    assert main(["dispatches", flag, "show", dispatch_id]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "dead"

    # Still broken: the retry says why and the dispatch stays dead.
    assert main(["dispatches", flag, "retry", dispatch_id]) == 1
    assert "still cannot be built" in capsys.readouterr().err
    # Fixed in the config: the retry renders the request again and puts it back in the outbox.
    config_data["routes"][0]["parameters"]["TEAM"] = "{{ labels.team | default('ml') }}"
    write_config(config_data)
    assert main(["dispatches", flag, "retry", dispatch_id]) == 0
    assert "back in the outbox" in capsys.readouterr().out
    trail = SQLiteStore(config.store_path).get_dispatch(dispatch_id)
    assert trail is not None
    assert trail.summary.state == "pending"
    assert trail.request is not None
    assert trail.request["json"]["parameters"]["TEAM"] == "ml"

    assert main(["dispatches", flag, "show", "drb-nope"]) == 1
    assert "no dispatch 'drb-nope'" in capsys.readouterr().err


def test_serve_refuses_to_start_on_a_bad_config_naming_the_key(
    write_config: ConfigWriter,
    config_data: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_config(config_data)
    path = tmp_path / "bridge.yml"
    path.write_text(path.read_text().replace("cooldown: 0s", "cooldown: soon"))
    assert main(["serve", f"--config.file={path}"]) == 1
    err = capsys.readouterr().err
    assert f"{path}: routes[0].cooldown: invalid duration 'soon'" in err


def test_serve_refuses_to_start_when_the_store_cannot_be_opened(
    write_config: ConfigWriter,
    config_data: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config_data["store"]["path"] = "/dev/null/bridge.db"
    write_config(config_data)
    assert main(["serve", f"--config.file={tmp_path / 'bridge.yml'}"]) == 1
    assert "cannot open the store /dev/null/bridge.db" in capsys.readouterr().err

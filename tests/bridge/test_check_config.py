"""check-config reports what would fail later; replay needs nothing of the serving host."""

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from bridge.cli import main
from tests.support.bridge import base_config

REPO = Path(__file__).resolve().parents[2]


def command_config(tmp_path: Path, program: str) -> Path:
    token = tmp_path / "bridge.token"
    token.write_text("t0ken-value\n")
    data: dict[str, Any] = base_config(token)
    data["targets"] = {"local": {"type": "command", "command": [program, "--model", "x"]}}
    data["routes"][0]["target"] = "local"
    path = tmp_path / "bridge.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def check(config: Path, *flags: str) -> int:
    return main(["check-config", f"--config.file={config}", *flags])


@pytest.mark.parametrize(
    ("program", "words"),
    [
        ("/nonexistent/bin/retrain", "does not exist"),
        ("not-installed-retrain-xyz", "not found on PATH"),
        ("{script}", "is not executable"),
    ],
)
def test_a_command_target_whose_program_cannot_run_is_a_warning_and_an_error_with_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], program: str, words: str
) -> None:
    script = tmp_path / "retrain.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o644)
    config = command_config(tmp_path, program.format(script=script))
    assert check(config) == 0
    out = capsys.readouterr().out
    assert f"warning: {config}: targets.local.command[0]:" in out
    assert words in out
    assert "may exist only on the serving host" in out
    assert check(config, "--strict") == 1
    assert words in capsys.readouterr().err


def test_a_command_target_with_a_runnable_or_templated_program_has_no_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for program in ("/bin/true", "true", "{{ labels.job }}"):
        assert check(command_config(tmp_path, program), "--strict") == 0
        assert "warning" not in capsys.readouterr().out


def test_a_matcher_alertmanager_would_refuse_is_an_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = command_config(tmp_path, "/bin/true")
    data = yaml.safe_load(config.read_text())
    data["routes"][0]["matchers"] = ["alertname==ModelDriftHigh"]
    config.write_text(yaml.safe_dump(data))
    assert check(config) == 1
    err = capsys.readouterr().err
    assert "routes[0].matchers[0]: invalid matcher 'alertname==ModelDriftHigh'" in err
    assert 'alertname="ModelDriftHigh"' in err


def test_replay_of_the_readme_example_needs_no_secret_file_and_fills_every_parameter(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The example config names secret files under /etc/drift-bridge that do not exist here.
    assert not Path("/etc/drift-bridge/jenkins.token").exists()
    code = main(
        [
            "replay",
            f"--config.file={REPO / 'bridge/examples/bridge.yml'}",
            str(REPO / "bridge/examples/webhook-firing.json"),
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    (route,) = out["alerts"][0]["routes"]
    assert "error" not in route
    assert route["request"]["form"]["DRIFT_SCORE"] == "0.31"
    assert route["request"]["form"]["MODEL"] == "churn-classifier"

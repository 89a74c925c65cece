"""The command target: argv templating without a shell, the environment it builds, exit codes."""

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bridge.targets import DispatchError, FailureReason, Job, Target
from bridge.targets.command import PASS_THROUGH
from tests.support.targets import alert_variables, make_job, stored, target_from

# Writes its environment and arguments as JSON to the file named by its first argument.
DUMP = (
    "import json, os, sys\n"
    "json.dump({'env': dict(os.environ), 'argv': sys.argv[1:], 'cwd': os.getcwd()},"
    " open(sys.argv[1], 'w'))\n"
)


def command_target(command: list[str], **settings: Any) -> Target:
    """A command target running ``command``."""
    return target_from({"type": "command", "command": command, **settings})


def run_dump(
    tmp_path: Path, extra_args: list[str] | None = None, **settings: Any
) -> dict[str, Any]:
    """Run the DUMP program through a command target; what it saw."""
    out = tmp_path / "seen.json"
    target = command_target([sys.executable, "-c", DUMP, str(out), *(extra_args or [])], **settings)
    target.send(target.prepare(make_job({"MODEL": "churn", "THRESHOLD": "0.25"})))
    seen: dict[str, Any] = json.loads(out.read_text())
    return seen


@pytest.mark.integration
def test_environment_carries_the_alert_and_the_parameters(tmp_path: Path) -> None:
    env = run_dump(tmp_path)["env"]

    assert env["MODEL"] == "churn"
    assert env["THRESHOLD"] == "0.25"
    assert env["DRIFT_BRIDGE_DISPATCH_ID"] == "drb-0001"
    assert env["DRIFT_BRIDGE_ROUTE"] == "drift"
    assert env["DRIFT_BRIDGE_STATUS"] == "firing"
    assert env["DRIFT_BRIDGE_FINGERPRINT"] == "a1b2c3d4e5f60718"
    assert env["DRIFT_BRIDGE_STARTS_AT"] == "2026-11-25T09:00:00.123456789Z"
    assert env["DRIFT_BRIDGE_VALUE"] == "0.31"
    assert json.loads(env["DRIFT_BRIDGE_LABELS_JSON"]) == {
        "alertname": "ModelDriftHigh",
        "model": "churn",
        "team": "ml",
    }
    assert json.loads(env["DRIFT_BRIDGE_ANNOTATIONS_JSON"])["drift_score"] == "0.31"
    assert env["DRIFT_BRIDGE_LABEL_ALERTNAME"] == "ModelDriftHigh"
    assert env["DRIFT_BRIDGE_LABEL_MODEL"] == "churn"


def test_label_names_become_upper_case_variable_names() -> None:
    target = command_target(["true"])

    variables = alert_variables(**{"model_version": "3", "k8s.namespace": "prod"})
    request = target.prepare(Job("drb-0001", {}, variables))

    assert request["env"]["DRIFT_BRIDGE_LABEL_MODEL_VERSION"] == "3"
    assert request["env"]["DRIFT_BRIDGE_LABEL_K8S_NAMESPACE"] == "prod"


def test_value_variable_is_absent_when_the_alert_has_no_value() -> None:
    target = command_target(["true"])
    variables = alert_variables()
    del variables["value"]

    assert "DRIFT_BRIDGE_VALUE" not in target.prepare(Job("drb-0001", {}, variables))["env"]


@pytest.mark.integration
def test_bridge_secrets_do_not_reach_the_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFT_BRIDGE_TOKEN", "bridge-secret")
    monkeypatch.setenv("TZ", "UTC")

    env = run_dump(tmp_path)["env"]

    assert "DRIFT_BRIDGE_TOKEN" not in env
    assert env["PATH"] == os.environ["PATH"]
    assert env["TZ"] == "UTC"
    inherited = {name for name in env if not name.startswith("DRIFT_BRIDGE_")}
    # Python itself may set LC_CTYPE when it coerces the C locale.
    assert inherited - {"LC_CTYPE"} <= {*PASS_THROUGH, "MODEL", "THRESHOLD"}


@pytest.mark.integration
def test_inherit_env_passes_the_whole_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOME_TOOL_HOME", "/opt/tool")

    env = run_dump(tmp_path, inherit_env=True)["env"]

    assert env["SOME_TOOL_HOME"] == "/opt/tool"


@pytest.mark.integration
def test_env_setting_values_are_templates_and_win(tmp_path: Path) -> None:
    env = run_dump(
        tmp_path,
        env={"MLFLOW_RUN_NAME": "drift-{{ labels.model }}-{{ dispatch_id }}", "MODEL": "override"},
    )["env"]

    assert env["MLFLOW_RUN_NAME"] == "drift-churn-drb-0001"
    assert env["MODEL"] == "override"


def test_request_holds_argv_and_the_variables_the_bridge_sets_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DRIFT_BRIDGE_TOKEN", "bridge-secret")
    target = command_target(["train", "--model", "{{ labels.model }}"], timeout="5m")

    request = target.prepare(make_job())

    assert request["argv"] == ["train", "--model", "churn"]
    assert "PATH" not in request["env"]
    assert "bridge-secret" not in json.dumps(request)
    assert request["env"]["MODEL"] == "churn"
    assert request["timeout"] == 300.0
    assert request["inherit_env"] is False


@pytest.mark.integration
def test_argv_items_are_templates_and_each_stays_one_argument(tmp_path: Path) -> None:
    marker = tmp_path / "must-survive"
    marker.write_text("")
    out = tmp_path / "seen.json"
    hostile = f"churn; rm -rf {marker} && echo $(id) `id` | cat > /dev/null"
    target = command_target([sys.executable, "-c", DUMP, str(out), "--model", "{{ labels.model }}"])

    target.send(target.prepare(make_job(model=hostile)))

    assert json.loads(out.read_text())["argv"][1:] == ["--model", hostile]
    assert marker.exists()


@pytest.mark.integration
def test_working_dir_is_used(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()

    assert run_dump(tmp_path, working_dir=str(work))["cwd"] == str(work)


@pytest.mark.integration
def test_exit_zero_is_success_with_output_tails() -> None:
    script = "import sys; print('x' * 10000); print('done'); print('warn', file=sys.stderr)"
    target = command_target([sys.executable, "-c", script])

    result = target.send(target.prepare(make_job()))

    assert result.details["exit_code"] == 0
    assert result.details["stdout_tail"].endswith("done")
    assert len(result.details["stdout_tail"]) == 4000
    assert result.details["stderr_tail"] == "warn"


@pytest.mark.integration
def test_a_failed_job_is_a_permanent_failure_with_the_stderr_tail() -> None:
    script = (
        "import sys\n"
        "print('x' * 5000, file=sys.stderr)\n"
        "print('CUDA out of memory', file=sys.stderr)\n"
        "sys.exit(3)\n"
    )
    target = command_target([sys.executable, "-c", script])

    with pytest.raises(DispatchError) as caught:
        target.send(target.prepare(make_job()))

    assert caught.value.retryable is False
    assert caught.value.reason == FailureReason.COMMAND_FAILED
    assert "exit status 3" in caught.value.message
    assert caught.value.message.endswith("CUDA out of memory")
    assert len(caught.value.message) < 700
    assert caught.value.response is not None
    assert caught.value.response.endswith("CUDA out of memory")


@pytest.mark.integration
def test_exit_75_asks_for_a_retry_later() -> None:
    target = command_target([sys.executable, "-c", "import sys; sys.exit(75)"])

    with pytest.raises(DispatchError) as caught:
        target.send(target.prepare(make_job()))

    assert caught.value.retryable is True
    assert caught.value.reason == FailureReason.COMMAND_FAILED
    assert "exit status 75" in caught.value.message


@pytest.mark.integration
def test_killed_by_a_signal_says_which() -> None:
    target = command_target([sys.executable, "-c", "import os; os.kill(os.getpid(), 9)"])

    with pytest.raises(DispatchError) as caught:
        target.send(target.prepare(make_job()))

    assert "killed by SIGKILL" in caught.value.message


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its parent counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.integration
def test_timeout_kills_the_program_and_its_children(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = (
        "import os, subprocess, sys, time\n"
        "child = subprocess.Popen(['sleep', '60'])\n"
        "open(sys.argv[1], 'w').write(f'{os.getpid()} {child.pid}')\n"
        "time.sleep(60)\n"
    )
    target = command_target([sys.executable, "-c", script, str(pids)], timeout="1s")

    started = time.monotonic()
    with pytest.raises(DispatchError) as caught:
        target.send(target.prepare(make_job()))

    assert time.monotonic() - started < 5
    assert caught.value.retryable is False
    assert caught.value.reason == FailureReason.TIMEOUT
    assert "1s timeout" in caught.value.message
    parent, child = (int(pid) for pid in pids.read_text().split())
    deadline = time.monotonic() + 3
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(parent)
    assert not alive(child)


@pytest.mark.integration
def test_missing_executable_is_a_clear_non_retryable_error() -> None:
    target = command_target(["retrain-that-does-not-exist", "--now"])

    with pytest.raises(DispatchError) as caught:
        target.send(target.prepare(make_job()))

    assert caught.value.retryable is False
    assert caught.value.reason == FailureReason.CLIENT_ERROR
    assert "program not found: retrain-that-does-not-exist" in caught.value.message


@pytest.mark.integration
def test_file_that_is_not_executable_is_a_non_retryable_error(tmp_path: Path) -> None:
    script = tmp_path / "train.sh"
    script.write_text("#!/bin/sh\nexit 0\n")

    target = command_target([str(script)])
    with pytest.raises(DispatchError) as caught:
        target.send(target.prepare(make_job()))

    assert caught.value.retryable is False
    assert "not executable" in caught.value.message


def test_missing_template_variable_is_an_invalid_request() -> None:
    target = command_target(["train", "{{ labels.pipeline }}"])

    with pytest.raises(DispatchError) as caught:
        target.prepare(make_job())

    assert caught.value.reason == FailureReason.INVALID_REQUEST
    assert "targets.t.command[1]" in caught.value.message


@pytest.mark.integration
def test_stored_request_runs_after_a_restart(tmp_path: Path) -> None:
    out = tmp_path / "seen.json"
    settings = [sys.executable, "-c", DUMP, str(out)]
    request = stored(command_target(settings).prepare(make_job(dispatch_id="drb-3")))

    command_target(settings).send(request)

    assert json.loads(out.read_text())["env"]["DRIFT_BRIDGE_DISPATCH_ID"] == "drb-3"

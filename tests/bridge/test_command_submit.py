"""The command target's submit mode: a detached job followed to its exit status, never twice,
surviving a bridge restart."""

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from bridge.metrics import RetrainingResult
from bridge.targets.base import Locator, RunState, RunStatus
from bridge.targets.command import CommandTarget
from demo.harness.processes import wait_until
from tests.support.bridge import ConfigWriter, Running
from tests.support.targets import make_job, target_from

pytestmark = pytest.mark.integration


def job_script(tmp_path: Path, seconds: float, code: int) -> Path:
    """A job that notes each start in runs.txt, sleeps, and exits with ``code``."""
    path = tmp_path / "job.sh"
    path.write_text(
        f'#!/bin/sh\necho "started $MODEL" >> {tmp_path}/runs.txt\nsleep {seconds}\nexit {code}\n'
    )
    path.chmod(0o755)
    return path


def submit_target(tmp_path: Path, script: Path) -> CommandTarget:
    """A submit-mode command target running ``script``."""
    target = target_from(
        {
            "type": "command",
            "command": [str(script)],
            "mode": "submit",
            "jobs_dir": str(tmp_path / "jobs"),
        }
    )
    assert isinstance(target, CommandTarget)
    return target


def until(target: CommandTarget, run: Locator, state: RunState, timeout: float) -> RunStatus:
    """Follow the job until it is in ``state``."""

    def look() -> RunStatus | None:
        status = target.follow(run, None)
        return status if status.state == state else None

    return wait_until(look, timeout, f"the job to be {state}", interval=0.02)


def starts(tmp_path: Path) -> int:
    """How many times the job started."""
    runs = tmp_path / "runs.txt"
    return len(runs.read_text().splitlines()) if runs.exists() else 0


@pytest.mark.parametrize(
    ("code", "result"), [(0, RetrainingResult.SUCCEEDED), (3, RetrainingResult.FAILED)]
)
def test_a_submitted_job_is_followed_to_its_exit_status(
    tmp_path: Path, code: int, result: RetrainingResult
) -> None:
    target = submit_target(tmp_path, job_script(tmp_path, 0.3, code))
    sent = target.send(target.prepare(make_job({"MODEL": "churn"})))
    assert sent.run is not None

    running = until(target, sent.run, RunState.RUNNING, 5)
    done = until(target, sent.run, RunState.COMPLETED, 10)

    assert running.external_id == str(sent.run["pid"])
    assert (done.result, done.detail) == (result, f"exit status {code}")
    assert done.duration is not None
    assert done.duration >= 0.2


def test_a_killed_job_is_cancelled(tmp_path: Path) -> None:
    target = submit_target(tmp_path, job_script(tmp_path, 30, 0))
    sent = target.send(target.prepare(make_job({"MODEL": "churn"})))
    assert sent.run is not None
    wait_until(lambda: starts(tmp_path) or None, 5, "the job to start")

    os.killpg(os.getpgid(sent.run["pid"]), signal.SIGTERM)
    done = until(target, sent.run, RunState.COMPLETED, 10)

    assert (done.result, done.detail) == (RetrainingResult.CANCELLED, "exit status 143")


def test_the_same_dispatch_submitted_twice_runs_once_and_is_found(tmp_path: Path) -> None:
    target = submit_target(tmp_path, job_script(tmp_path, 0.2, 0))
    request = target.prepare(make_job({"MODEL": "churn"}))

    before = target.find_run(request, 0)
    target.send(request)
    target.send(request)
    time.sleep(1)

    assert before is None
    assert target.find_run(request, 0) is not None
    assert starts(tmp_path) == 1


def test_a_bridge_restart_neither_kills_nor_reruns_a_submitted_job(
    write_config: ConfigWriter, config_data: dict[str, Any], tmp_path: Path
) -> None:
    config_data["targets"] = {
        "job": {
            "type": "command",
            "command": [str(job_script(tmp_path, 2, 0))],
            "mode": "submit",
            "jobs_dir": str(tmp_path / "jobs"),
        }
    }
    config_data["routes"][0]["target"] = "job"
    config_data["routes"][0]["parameters"] = {"MODEL": "{{ labels.model }}"}
    config_data["follow"] = {"poll_interval": "100ms"}
    config = write_config(config_data)

    with Running(config) as bridge:
        dispatch_id = bridge.fire()
        running = bridge.wait_run(dispatch_id, "running", timeout=10)
    pid = int(running["run"]["external_id"])
    alive_after_stop = Path(f"/proc/{pid}").exists()
    with Running(config) as restarted:
        done = restarted.wait_run(dispatch_id, "completed", timeout=20)

    assert alive_after_stop
    assert done["run"]["result"] == "succeeded"
    assert [a["outcome"] for a in done["attempts"]] == ["success"]
    assert starts(tmp_path) == 1

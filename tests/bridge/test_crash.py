"""kill -9 at each step of an attempt, on Jenkins and GitHub: still one run per episode.

A real bridge (``drift-bridge serve``) is killed with SIGKILL while its attempt is
- ``before_request``: at the target, not yet handled (the fake then drops it unhandled);
- ``at_target``: handled (the run exists), its answer not yet sent;
- ``after_answer``: answered, the bridge about to record it;
- ``before_record``: answered, the bridge blocked on the store's write lock (held by the test).
A second bridge on the same store takes the dispatch over once its lease expires.
"""

import fcntl
import os
import signal
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from demo.harness.processes import free_port, wait_until
from demo.harness.stack import bridge_process
from tests.support.bridge import TOKEN
from tests.support.closed_loop import loop_config
from tests.support.fakes.github import FakeGitHub
from tests.support.fakes.jenkins import FakeJenkins
from tests.support.fakes.server import FakeServer
from tests.support.fixtures import body

pytestmark = pytest.mark.integration

STEPS = ["before_request", "at_target", "after_answer", "before_record"]


def api(port: int, path: str) -> Any:
    """GET the bridge's API."""
    response = requests.get(
        f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    )
    response.raise_for_status()
    return response.json()


def runs_started(target: str, jenkins: FakeJenkins, github: FakeGitHub, dispatch_id: str) -> int:
    """How many runs the target started for ``dispatch_id`` (queue items, or workflow runs)."""
    if target == "gh":
        return sum(1 for run in github.runs if run.inputs.get("dispatch_id") == dispatch_id)
    return sum(1 for item in jenkins.queue if item.parameters["DISPATCH_ID"] == dispatch_id)


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("target", ["ci", "gh"])
def test_a_bridge_killed_at_any_step_of_an_attempt_starts_one_run(
    tmp_path: Path,
    config_data: dict[str, Any],
    fake_jenkins: FakeJenkins,
    fake_github: FakeGitHub,
    target: str,
    step: str,
) -> None:
    port = free_port()
    data = loop_config(tmp_path, config_data, fake_jenkins, fake_github, target)
    data["listen_address"] = f"127.0.0.1:{port}"
    data["workers"] = 1
    data["dispatch"]["lease"] = "2s"
    config = tmp_path / "bridge.yml"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    fake: FakeServer = fake_github if target == "gh" else fake_jenkins
    path = "/dispatches" if target == "gh" else "/buildWithParameters"
    hold = fake.hold("POST", path, stage="request" if step == "before_request" else "answer")
    lock: int | None = None

    with bridge_process(config, tmp_path, "bridge-killed") as killed:
        killed.wait_http(f"http://127.0.0.1:{port}/readyz")
        answer = requests.post(
            f"http://127.0.0.1:{port}/alerts",
            json=body("firing-single-bearer"),
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        dispatch_id = answer.json()["alerts"][0]["dispatch_id"]
        hold.wait_arrived(20)
        if step == "before_record":
            lock = os.open(f"{tmp_path / 'bridge.db'}-writer.lock", os.O_RDWR | os.O_CREAT)
            fcntl.flock(lock, fcntl.LOCK_EX)
        if step in ("after_answer", "before_record"):
            hold.release()
            wait_until(
                lambda: runs_started(target, fake_jenkins, fake_github, dispatch_id) or None,
                5,
                "run",
            )
        os.killpg(killed.pid, signal.SIGKILL)
        killed.stop()
    if step in ("before_request", "at_target"):
        hold.release(handle=step == "at_target")
    if lock is not None:
        fcntl.flock(lock, fcntl.LOCK_UN)
        os.close(lock)

    with bridge_process(config, tmp_path, "bridge-restarted") as restarted:
        restarted.wait_http(f"http://127.0.0.1:{port}/readyz")

        def succeeded() -> dict[str, Any] | None:
            trail: dict[str, Any] = api(port, f"/api/dispatches/{dispatch_id}")
            return trail if trail["state"] == "succeeded" and trail["run"] else None

        trail = wait_until(succeeded, 30, "the dispatch to succeed after the restart")

    outcomes = [attempt["outcome"] for attempt in trail["attempts"]]
    assert runs_started(target, fake_jenkins, fake_github, dispatch_id) == 1
    assert outcomes == ["unknown", "success" if step == "before_request" else "adopted"]
    assert trail["attempts"][0]["message"].startswith("outcome unknown (process died)")
    assert trail["run"]["adopted"] is (step != "before_request")

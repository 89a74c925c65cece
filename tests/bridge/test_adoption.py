"""Never a second run: an attempt whose outcome is unknown is looked for before sending again.

These tests lose an attempt in the test's process (a lease taken by an owner that never records
it); ``test_crash_kill9.py`` kills a real bridge at each step of an attempt.
"""

import time
from typing import Any

import pytest

from bridge.config import BridgeConfig
from bridge.store import SQLiteStore
from bridge.web.app import create_app
from tests.support.bridge import Running, auth_headers
from tests.support.closed_loop import LoopConfig
from tests.support.fakes.github import FakeGitHub
from tests.support.fakes.jenkins import FakeJenkins
from tests.support.fixtures import body


def lose_an_attempt(config: BridgeConfig, reach_the_target: bool) -> str:
    """Fire an alert and lease its dispatch to an owner that dies; maybe after sending it."""
    store = SQLiteStore(config.store_path)
    client = create_app(config, store).test_client()
    answer = client.post("/alerts", json=body("firing-single-bearer"), headers=auth_headers())
    dispatch_id: str = answer.get_json()["alerts"][0]["dispatch_id"]
    [claimed] = store.claim_due(time.time(), "dead-host:1:abc", 0.2, 1)
    if reach_the_target:
        config.targets[claimed.target].send(claimed.request)
    store.close()
    time.sleep(0.3)  # the dead owner's lease expires
    return dispatch_id


def outcomes(trail: dict[str, Any]) -> list[str]:
    """The outcome of each attempt in the audit trail."""
    return [attempt["outcome"] for attempt in trail["attempts"]]


@pytest.mark.parametrize("target", ["ci", "gh"])
def test_a_run_started_by_a_lost_attempt_is_adopted_not_started_again(
    fake_jenkins: FakeJenkins,
    fake_github: FakeGitHub,
    make_loop_config: LoopConfig,
    target: str,
) -> None:
    config = make_loop_config(target, dispatch={"poll_interval": "50ms", "lease": "1s"})
    dispatch_id = lose_an_attempt(config, reach_the_target=True)

    with Running(config) as bridge:
        trail = bridge.wait_state(dispatch_id, "succeeded")
        followed = bridge.wait_run(dispatch_id, "queued")

    assert outcomes(trail) == ["unknown", "adopted"]
    assert trail["attempts"][0]["message"].startswith("outcome unknown (process died)")
    assert followed["run"]["adopted"] is True
    assert len(fake_github.runs) + len(fake_jenkins.queue) == 1


@pytest.mark.parametrize("target", ["ci", "gh"])
def test_a_lost_attempt_that_never_reached_the_target_is_sent(
    fake_jenkins: FakeJenkins,
    fake_github: FakeGitHub,
    make_loop_config: LoopConfig,
    target: str,
) -> None:
    config = make_loop_config(target, dispatch={"poll_interval": "50ms", "lease": "1s"})
    dispatch_id = lose_an_attempt(config, reach_the_target=False)

    with Running(config) as bridge:
        trail = bridge.wait_state(dispatch_id, "succeeded")

    assert outcomes(trail) == ["unknown", "success"]
    assert len(fake_github.runs) + len(fake_jenkins.queue) == 1


def test_a_jenkins_build_already_running_is_found_by_its_dispatch_id(
    fake_jenkins: FakeJenkins,
    make_loop_config: LoopConfig,
) -> None:
    config = make_loop_config("ci", dispatch={"poll_interval": "50ms", "lease": "1s"})
    dispatch_id = lose_an_attempt(config, reach_the_target=True)
    fake_jenkins.start_builds()  # the build started: Jenkins would not merge a second request now

    with Running(config) as bridge:
        trail = bridge.wait_state(dispatch_id, "succeeded")
        followed = bridge.wait_run(dispatch_id, "running")

    assert outcomes(trail) == ["unknown", "adopted"]
    assert followed["run"]["url"] == f"{fake_jenkins.url}/job/ml/job/retrain/1/"
    assert len(fake_jenkins.builds_of("ml/retrain")) == 1


def test_a_failed_look_for_the_lost_run_is_retried_not_followed_by_a_blind_send(
    fake_github: FakeGitHub,
    make_loop_config: LoopConfig,
) -> None:
    config = make_loop_config("gh", dispatch={"poll_interval": "50ms", "lease": "1s"})
    dispatch_id = lose_an_attempt(config, reach_the_target=True)
    fake_github.fail_next(1, 502)

    with Running(config) as bridge:
        trail = bridge.wait_state(dispatch_id, "succeeded")

    assert outcomes(trail) == ["unknown", "retry", "adopted"]
    assert len(fake_github.runs) == 1


def test_a_target_that_can_never_look_sends_again_rather_than_never(
    fake_github: FakeGitHub,
    make_loop_config: LoopConfig,
) -> None:
    config = make_loop_config("gh", dispatch={"poll_interval": "50ms", "lease": "1s"})
    dispatch_id = lose_an_attempt(config, reach_the_target=False)
    fake_github.fail_next(1, 401)  # the look for the lost run: bad credentials, for good

    with Running(config) as bridge:
        trail = bridge.wait_state(dispatch_id, "succeeded")

    assert outcomes(trail) == ["unknown", "success"]

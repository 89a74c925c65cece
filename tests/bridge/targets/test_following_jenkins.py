"""Following a Jenkins run: queue item -> build -> result, vanished items, finding it again."""

from pathlib import Path

import pytest

from bridge.metrics import RetrainingResult
from bridge.targets import DispatchError
from bridge.targets.base import Locator, RunState, RunStatus
from bridge.targets.jenkins import JenkinsTarget
from tests.bridge.targets.test_jenkins import jenkins_target
from tests.support.fakes.jenkins import FakeJenkins
from tests.support.fakes.lifecycle import Lifecycle
from tests.support.targets import make_job


def started(
    fake: FakeJenkins, secrets: Path, dispatch_id: str = "drb-0001"
) -> tuple[JenkinsTarget, Locator]:
    """A target (no quiet period) and the locator of the run its dispatch started."""
    target = jenkins_target(fake, secrets, delay="0s")
    assert isinstance(target, JenkinsTarget)
    result = target.send(target.prepare(make_job({"MODEL": "churn"}, dispatch_id=dispatch_id)))
    assert result.run is not None
    return target, result.run


def look(target: JenkinsTarget, locator: Locator) -> RunStatus:
    """One look, as the follower makes it."""
    return target.follow(locator, None)


@pytest.mark.parametrize(
    ("jenkins_result", "result"),
    [
        ("SUCCESS", RetrainingResult.SUCCEEDED),
        ("UNSTABLE", RetrainingResult.FAILED),
        ("FAILURE", RetrainingResult.FAILED),
        ("ABORTED", RetrainingResult.CANCELLED),
        ("NOT_BUILT", RetrainingResult.CANCELLED),
    ],
)
def test_a_queue_item_is_followed_to_its_build_and_the_build_to_its_result(
    jenkins: FakeJenkins, secrets_dir: Path, jenkins_result: str, result: RetrainingResult
) -> None:
    target, locator = started(jenkins, secrets_dir)

    queued = look(target, locator)
    [build] = jenkins.start_builds()
    running = look(target, queued.locator)
    building = look(target, running.locator)
    jenkins.finish_build(jenkins.jobs["ml/retrain"], build.number, jenkins_result, 90_000)
    done = look(target, building.locator)

    assert queued.state == RunState.QUEUED
    assert running.state == RunState.RUNNING
    assert running.locator["build_url"] == f"{jenkins.url}/job/ml/job/retrain/1/"
    assert (building.state, building.result) == (RunState.RUNNING, None)
    assert (done.state, done.result, done.detail) == (RunState.COMPLETED, result, jenkins_result)
    assert done.duration == 90.0
    assert done.external_id == "1"
    assert done.url == f"{jenkins.url}/job/ml/job/retrain/1/"


def test_a_cancelled_queue_item_is_a_cancelled_run(jenkins: FakeJenkins, secrets_dir: Path) -> None:
    target, locator = started(jenkins, secrets_dir)
    jenkins.cancel(jenkins.queue[0].id)

    status = look(target, locator)

    assert (status.state, status.result) == (RunState.COMPLETED, RetrainingResult.CANCELLED)


def test_a_vanished_queue_item_is_found_again_as_its_build(
    jenkins: FakeJenkins, secrets_dir: Path
) -> None:
    target, locator = started(jenkins, secrets_dir, "drb-0007")
    jenkins.start_builds()
    jenkins.expire_left_items()

    status = look(target, locator)

    assert status.state == RunState.RUNNING
    assert status.locator["build_url"] == f"{jenkins.url}/job/ml/job/retrain/1/"


def test_a_vanished_queue_item_without_a_build_is_cancelled(
    jenkins: FakeJenkins, secrets_dir: Path
) -> None:
    target, locator = started(jenkins, secrets_dir)
    jenkins.cancel(jenkins.queue[0].id)
    jenkins.expire_left_items()

    status = look(target, locator)

    assert (status.state, status.result) == (RunState.COMPLETED, RetrainingResult.CANCELLED)
    assert "vanished" in (status.detail or "")


def test_a_server_error_while_looking_is_retryable(jenkins: FakeJenkins, secrets_dir: Path) -> None:
    target, locator = started(jenkins, secrets_dir)
    jenkins.fail_next(1, 503)

    with pytest.raises(DispatchError) as caught:
        look(target, locator)

    assert caught.value.retryable


def test_find_run_finds_a_waiting_item_then_its_build_by_dispatch_id(
    jenkins: FakeJenkins, secrets_dir: Path
) -> None:
    target = jenkins_target(jenkins, secrets_dir, delay="0s")
    assert isinstance(target, JenkinsTarget)
    request = target.prepare(make_job({"MODEL": "churn"}, dispatch_id="drb-0042"))
    other = target.prepare(make_job({"MODEL": "churn"}, dispatch_id="drb-0043"))

    before = target.find_run(request, 0)
    target.send(request)
    target.send(other)
    waiting = target.find_run(request, 0)
    jenkins.start_builds()
    jenkins.expire_left_items()
    built = target.find_run(request, 0)

    assert before is None
    assert waiting == {"queue_url": f"{jenkins.url}/queue/item/1/"}
    assert built == {"build_url": f"{jenkins.url}/job/ml/job/retrain/1/"}


def test_a_lifecycle_run_end_to_end(jenkins: FakeJenkins, secrets_dir: Path) -> None:
    jenkins.lifecycle = Lifecycle(start_after=0, run_for=0, result="SUCCESS")
    target, locator = started(jenkins, secrets_dir)

    first = look(target, locator)
    second = look(target, first.locator)

    assert first.state == RunState.RUNNING
    assert (second.state, second.result) == (RunState.COMPLETED, RetrainingResult.SUCCEEDED)

"""Following a GitHub run: queued -> in_progress -> completed, ETags, rate limits, finding runs."""

from pathlib import Path

import pytest

from bridge.metrics import RetrainingResult
from bridge.targets import DispatchError, FailureReason
from bridge.targets.base import Locator, RunState
from bridge.targets.github import GitHubTarget
from tests.bridge.targets.test_github import github_target
from tests.support.fakes.github import FakeGitHub
from tests.support.targets import make_job


def started(
    fake: FakeGitHub, secrets: Path, dispatch_id: str = "drb-0001", **overrides: object
) -> tuple[GitHubTarget, Locator]:
    """A target and the locator of the run its dispatch started."""
    target = github_target(fake, secrets, **overrides)
    result = target.send(target.prepare(make_job({"model": "churn"}, dispatch_id=dispatch_id)))
    assert result.run is not None
    return target, result.run


@pytest.mark.parametrize(
    ("conclusion", "result"),
    [
        ("success", RetrainingResult.SUCCEEDED),
        ("failure", RetrainingResult.FAILED),
        ("startup_failure", RetrainingResult.FAILED),
        ("cancelled", RetrainingResult.CANCELLED),
        ("skipped", RetrainingResult.CANCELLED),
        ("timed_out", RetrainingResult.TIMED_OUT),
    ],
)
def test_a_run_is_followed_from_queued_through_in_progress_to_its_conclusion(
    github: FakeGitHub, secrets_dir: Path, conclusion: str, result: RetrainingResult
) -> None:
    target, locator = started(github, secrets_dir)
    run_id = locator["run_id"]

    queued = target.follow(locator, None)
    github.start_run(run_id)
    running = target.follow(locator, queued.etag)
    github.finish_run(run_id, conclusion)
    done = target.follow(locator, running.etag)

    assert queued.state == RunState.QUEUED
    assert running.state == RunState.RUNNING
    assert (done.state, done.result, done.detail) == (RunState.COMPLETED, result, conclusion)
    assert done.run_attempt == 1
    assert done.external_id == str(run_id)
    assert done.url is not None
    assert done.url.endswith(f"/actions/runs/{run_id}")
    assert done.duration is not None
    assert done.duration >= 0


def test_an_unchanged_run_is_a_free_304(github: FakeGitHub, secrets_dir: Path) -> None:
    target, locator = started(github, secrets_dir)
    first = target.follow(locator, None)
    counted = github.counted

    again = target.follow(locator, first.etag)

    assert again.not_modified
    assert github.counted == counted
    assert again.budget is not None
    assert again.budget.remaining > 0


def test_the_rate_budget_is_reported_with_each_look(github: FakeGitHub, secrets_dir: Path) -> None:
    target, locator = started(github, secrets_dir)
    github.rate_limit = github.counted + 2

    status = target.follow(locator, None)

    assert status.budget is not None
    assert status.budget.remaining == 1


def test_a_rate_limited_look_is_retryable_after_the_reset(
    github: FakeGitHub, secrets_dir: Path
) -> None:
    target, locator = started(github, secrets_dir)
    github.primary_rate_limit(reset_in=120)

    with pytest.raises(DispatchError) as caught:
        target.follow(locator, None)

    assert caught.value.reason == FailureReason.RATE_LIMITED
    assert caught.value.retry_after is not None
    assert caught.value.retry_after > 100


def test_a_deleted_run_ends_as_cancelled(github: FakeGitHub, secrets_dir: Path) -> None:
    target, locator = started(github, secrets_dir)
    github.runs.clear()

    status = target.follow(locator, None)

    assert (status.state, status.result) == (RunState.COMPLETED, RetrainingResult.CANCELLED)


def test_without_run_details_the_run_is_found_by_its_display_title(
    github: FakeGitHub, secrets_dir: Path
) -> None:
    target, locator = started(github, secrets_dir, "drb-0009", return_run_details=False)

    status = target.follow(locator, None)

    assert "run_id" not in locator
    assert status.locator == {"run_id": github.runs[0].id}
    assert status.state == RunState.QUEUED


def test_find_run_matches_the_dispatch_id_in_display_title_only_for_runs_since_then(
    github: FakeGitHub, secrets_dir: Path
) -> None:
    target = github_target(github, secrets_dir)
    request = target.prepare(make_job({"model": "churn"}, dispatch_id="drb-0042"))
    target.send(target.prepare(make_job({"model": "churn"}, dispatch_id="drb-0041")))

    before = target.find_run(request, 0)
    target.send(request)
    found = target.find_run(request, 0)

    assert before is None
    assert found == {"run_id": github.runs[1].id}

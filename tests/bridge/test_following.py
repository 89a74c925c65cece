"""The bridge follows each retraining to its result: store, follower, audit API and metrics."""

import time
from typing import Any

import pytest

from demo.harness.processes import wait_until
from tests.support.bridge import Running, auth_headers, seconds
from tests.support.closed_loop import LoopConfig
from tests.support.fakes.github import FakeGitHub
from tests.support.fakes.jenkins import FakeJenkins
from tests.support.fakes.lifecycle import Lifecycle
from tests.support.fixtures import body


def metrics(bridge: Running) -> str:
    """The /metrics text."""
    return bridge.client.get("/metrics").get_data(as_text=True)


def test_a_jenkins_run_is_followed_to_its_result_in_the_audit_and_metrics(
    fake_jenkins: FakeJenkins, make_loop_config: LoopConfig
) -> None:
    fake_jenkins.lifecycle = Lifecycle(start_after=0.1, run_for=0.3, result="SUCCESS")
    with Running(make_loop_config("ci")) as bridge:
        dispatch_id = bridge.fire()
        trail = bridge.wait_run(dispatch_id)
        text = metrics(bridge)

    run = trail["run"]
    assert (run["state"], run["result"], run["detail"]) == ("completed", "succeeded", "SUCCESS")
    assert run["external_id"] == "1"
    assert run["url"] == f"{fake_jenkins.url}/job/ml/job/retrain/1/"
    assert run["duration"] == pytest.approx(0.3)
    assert run["adopted"] is False
    assert (
        'drift_bridge_retrainings_total{result="succeeded",route="retrain",target="ci"} 1.0' in text
    )
    assert 'drift_bridge_retrainings_total{result="failed",route="retrain",target="ci"} 0.0' in text
    assert 'drift_bridge_retrainings_running{route="retrain",target="ci"} 0.0' in text
    assert (
        'drift_bridge_retraining_duration_seconds_bucket{le="30.0",route="retrain",target="ci"} 1.0'
        in text
    )


def test_a_failed_github_run_fails_the_episode(
    fake_github: FakeGitHub, make_loop_config: LoopConfig
) -> None:
    fake_github.lifecycle = Lifecycle(start_after=0, run_for=0.2, result="failure")
    with Running(make_loop_config("gh")) as bridge:
        dispatch_id = bridge.fire()
        trail = bridge.wait_run(dispatch_id)
        text = metrics(bridge)

    run = trail["run"]
    assert (run["result"], run["detail"], run["run_attempt"]) == ("failed", "failure", 1)
    assert run["episode_outcome"] == "retraining_failed"
    assert 'drift_bridge_episodes_total{outcome="retraining_failed",route="retrain"} 1.0' in text


def test_the_running_gauge_counts_runs_not_finished(
    fake_jenkins: FakeJenkins, make_loop_config: LoopConfig
) -> None:
    with Running(make_loop_config("ci")) as bridge:
        dispatch_id = bridge.fire()
        bridge.wait_run(dispatch_id, "queued")
        text = metrics(bridge)

    assert 'drift_bridge_retrainings_running{route="retrain",target="ci"} 1.0' in text


def test_following_goes_on_after_a_restart(
    fake_jenkins: FakeJenkins, make_loop_config: LoopConfig
) -> None:
    config = make_loop_config("ci")
    with Running(config) as bridge:
        dispatch_id = bridge.fire()
        bridge.wait_run(dispatch_id, "queued")
    [build] = fake_jenkins.start_builds()
    fake_jenkins.finish_build(fake_jenkins.jobs["ml/retrain"], build.number, "FAILURE")

    with Running(config) as restarted:
        trail = restarted.wait_run(dispatch_id)

    assert (trail["run"]["result"], trail["run"]["detail"]) == ("failed", "FAILURE")
    assert len(fake_jenkins.builds_of("ml/retrain")) == 1


def test_a_run_without_a_result_in_time_is_timed_out(
    fake_jenkins: FakeJenkins, make_loop_config: LoopConfig
) -> None:
    with Running(make_loop_config("ci", result_timeout="1s")) as bridge:
        dispatch_id = bridge.fire()
        trail = bridge.wait_run(dispatch_id)
        text = metrics(bridge)

    assert trail["run"]["result"] == "timed_out"
    assert (
        'drift_bridge_retrainings_total{result="timed_out",route="retrain",target="ci"} 1.0' in text
    )


def test_an_alert_resolved_within_verify_within_was_fixed_by_the_retraining(
    fake_jenkins: FakeJenkins, make_loop_config: LoopConfig
) -> None:
    fake_jenkins.lifecycle = Lifecycle(start_after=0, run_for=0, result="SUCCESS")
    with Running(make_loop_config("ci", verify_within="1h")) as bridge:
        dispatch_id = bridge.fire()
        bridge.wait_run(dispatch_id)
        resolved = bridge.client.post(
            "/alerts", json=body("resolved-single-bearer"), headers=auth_headers()
        )
        trail = wait_until(
            lambda: (t := bridge.trail(dispatch_id))["run"]["episode_outcome"] and t,
            10,
            "the episode to be judged",
        )
        text = metrics(bridge)

    assert resolved.status_code == 200
    assert trail["run"]["episode_outcome"] == "resolved_after_retraining"
    assert (
        'drift_bridge_episodes_total{outcome="resolved_after_retraining",route="retrain"} 1.0'
        in text
    )


def test_drift_that_outlasts_verify_within_persisted(
    fake_jenkins: FakeJenkins, make_loop_config: LoopConfig
) -> None:
    fake_jenkins.lifecycle = Lifecycle(start_after=0, run_for=0, result="SUCCESS")
    with Running(make_loop_config("ci", verify_within="0s")) as bridge:
        dispatch_id = bridge.fire()
        trail = wait_until(
            lambda: (t := bridge.trail(dispatch_id))["run"] and t["run"]["episode_outcome"] and t,
            10,
            "the episode to be judged",
        )

    assert trail["run"]["episode_outcome"] == "drift_persisted"


def test_looks_stop_while_the_rate_budget_is_down_to_the_reserve(
    fake_github: FakeGitHub, make_loop_config: LoopConfig
) -> None:
    # The reserve is above what is left: after the first look, the next waits for the reset.
    with Running(make_loop_config("gh", follow={"rate_reserve": 10_000})) as bridge:
        dispatch_id = bridge.fire()

        def looked_twice() -> dict[str, Any] | None:
            run: dict[str, Any] | None = bridge.trail(dispatch_id)["run"]
            return run if run is not None and run["polls"] >= 2 else None

        run = wait_until(looked_twice, 10, "two looks at the run")
        looks = [r for r in fake_github.received if "/actions/runs/" in r.path]

    assert len(looks) == 1
    # The second "look" only postponed the next one to the reset, an hour away.
    assert seconds(run["next_poll_at"]) > time.time() + 3000


def test_the_audit_gives_the_whole_chain_in_one_answer(
    fake_jenkins: FakeJenkins, make_loop_config: LoopConfig
) -> None:
    fake_jenkins.lifecycle = Lifecycle(start_after=0, run_for=0, result="SUCCESS")
    payload = body("firing-single-bearer")
    payload["alerts"][0]["annotations"].update(drift_score="0.27", threshold="0.2")
    with Running(make_loop_config("ci", verify_within="1h")) as bridge:
        answer = bridge.client.post("/alerts", json=payload, headers=auth_headers())
        dispatch_id = answer.get_json()["alerts"][0]["dispatch_id"]
        bridge.wait_run(dispatch_id)
        bridge.client.post(
            f"/api/dispatches/{dispatch_id}/result",
            json={"result": "succeeded", "model_version": "fraud-detector:8"},
            headers=auth_headers(),
        )
        bridge.client.post("/alerts", json=body("resolved-single-bearer"), headers=auth_headers())
        trail = wait_until(
            lambda: (t := bridge.trail(dispatch_id))["run"]["episode_outcome"] and t,
            10,
            "the episode to be judged",
        )

    assert trail["alert"]["fingerprint"] == "b78fc0eb9a264175"
    assert trail["alert"]["starts_at"].startswith("2026-11-25T08:28:11")
    assert trail["alert"]["labels"]["model"] == "fraud-detector"
    assert trail["drift"] == {"value": "0.27", "threshold": "0.2"}
    assert [a["outcome"] for a in trail["attempts"]] == ["success"]
    run = trail["run"]
    assert (run["external_id"], run["result"], run["model_version"]) == (
        "1",
        "succeeded",
        "fraud-detector:8",
    )
    assert {"started_at", "finished_at", "duration", "url"} <= set(run)
    assert trail["episode"]["resolved_at"] is not None
    assert run["episode_outcome"] == "resolved_after_retraining"


def test_on_failure_dispatches_once_more_while_drift_persists(
    fake_jenkins: FakeJenkins, make_loop_config: LoopConfig
) -> None:
    fake_jenkins.lifecycle = Lifecycle(start_after=0, run_for=0, result="FAILURE")
    config = make_loop_config("ci", on_failure={"redispatch_after": "0s", "max": 1})
    with Running(config) as bridge:
        first = bridge.fire()
        bridge.wait_run(first)

        def redispatched() -> list[dict[str, Any]] | None:
            listed = bridge.client.get("/api/dispatches", headers=auth_headers()).get_json()
            return listed["dispatches"] if len(listed["dispatches"]) == 2 else None

        second = next(
            d["id"] for d in wait_until(redispatched, 10, "a second dispatch") if d["id"] != first
        )
        trail = bridge.wait_run(second)
        time.sleep(1.5)  # the second failure must not cause a third dispatch (max: 1)
        listed = bridge.client.get("/api/dispatches", headers=auth_headers()).get_json()

    assert trail["kind"] == "firing"
    assert trail["run"]["result"] == "failed"
    assert len(listed["dispatches"]) == 2
    assert len(fake_jenkins.builds_of("ml/retrain")) == 2


def test_looks_per_target_are_capped_per_minute(
    fake_github: FakeGitHub, make_loop_config: LoopConfig
) -> None:
    with Running(make_loop_config("gh", follow={"max_looks_per_minute": 2})) as bridge:
        ids = []
        for n in range(3):
            payload = body("firing-single-bearer")
            payload["alerts"][0]["fingerprint"] = f"cap{n}"
            payload["alerts"][0]["labels"]["model"] = f"m{n}"
            answer = bridge.client.post("/alerts", json=payload, headers=auth_headers())
            ids.append(answer.get_json()["alerts"][0]["dispatch_id"])

        def all_looked_at() -> list[dict[str, Any]] | None:
            runs = [bridge.trail(i)["run"] for i in ids]
            return runs if all(r is not None and r["polls"] >= 1 for r in runs) else None

        runs = wait_until(all_looked_at, 10, "a first look at each run")
        looks = [r for r in fake_github.received if "/actions/runs/" in r.path]

    assert len(looks) == 2
    postponed = [r for r in runs if seconds(r["next_poll_at"]) > time.time() + 30]
    assert len(postponed) >= 1

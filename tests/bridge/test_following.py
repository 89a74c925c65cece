"""The bridge follows each retraining to its result: store, follower, audit API and metrics."""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.config import BridgeConfig
from demo.harness.processes import wait_until
from tests.bridge.conftest import ConfigWriter, auth_headers, base_config
from tests.bridge.running import Running, seconds
from tests.support.fakes.github import FakeGitHub
from tests.support.fakes.jenkins import FakeJenkins
from tests.support.fakes.lifecycle import Lifecycle
from tests.support.fixtures import body

JENKINS_TOKEN = "jenkins-api-token"
GITHUB_TOKEN = "github-token"


@pytest.fixture
def jenkins() -> Iterator[FakeJenkins]:
    """Jenkins with ml/retrain (MODEL, DISPATCH_ID) and user bot with an API token."""
    with FakeJenkins() as fake:
        fake.add_user("bot", api_token=JENKINS_TOKEN)
        fake.add_job("ml/retrain", {"MODEL": "", "DISPATCH_ID": ""})
        yield fake


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    """GitHub with acme/models retrain.yml whose run-name carries the dispatch id."""
    with FakeGitHub(token=GITHUB_TOKEN) as fake:
        fake.add_workflow("acme", "models", "retrain.yml", run_name="Retrain {dispatch_id}")
        yield fake


def loop_config(
    tmp_path: Path, token_file: Path, jenkins: FakeJenkins, github: FakeGitHub, target: str
) -> dict[str, Any]:
    """The base config with Jenkins (``ci``) and GitHub (``gh``) targets, route to ``target``."""
    (tmp_path / "jenkins-token").write_text(JENKINS_TOKEN)
    (tmp_path / "github-token").write_text(GITHUB_TOKEN)
    data = base_config(token_file)
    data["targets"] = {
        "ci": {
            "type": "jenkins",
            "url": jenkins.url,
            "job": "ml/retrain",
            "user": "bot",
            "api_token_file": str(tmp_path / "jenkins-token"),
            "delay": "0s",
            "timeout": "2s",
        },
        "gh": {
            "type": "github",
            "api_url": github.url,
            "owner": "acme",
            "repo": "models",
            "workflow": "retrain.yml",
            "ref": "main",
            "token_file": str(tmp_path / "github-token"),
            "timeout": "2s",
        },
    }
    data["routes"][0]["target"] = target
    data["routes"][0]["parameters"] = {"MODEL": "{{ labels.model }}"}
    data["follow"] = {"poll_interval": "50ms", "lease": "5s"}
    return data


@pytest.fixture
def make_config(
    tmp_path: Path,
    token_file: Path,
    jenkins: FakeJenkins,
    github: FakeGitHub,
    write_config: ConfigWriter,
) -> "Any":
    """config(target, **route_settings, follow=...) -> a BridgeConfig."""

    def make(
        target: str,
        follow: dict[str, Any] | None = None,
        dispatch: dict[str, Any] | None = None,
        **route: Any,
    ) -> BridgeConfig:
        data = loop_config(tmp_path, token_file, jenkins, github, target)
        data["routes"][0].update(route)
        data["follow"].update(follow or {})
        data["dispatch"].update(dispatch or {})
        return write_config(data)

    return make


def metrics(bridge: Running) -> str:
    """The /metrics text."""
    return bridge.client.get("/metrics").get_data(as_text=True)


def test_a_jenkins_run_is_followed_to_its_result_in_the_audit_and_metrics(
    jenkins: FakeJenkins, make_config: Any
) -> None:
    jenkins.lifecycle = Lifecycle(start_after=0.1, run_for=0.3, result="SUCCESS")
    with Running(make_config("ci")) as bridge:
        dispatch_id = bridge.fire()
        trail = bridge.wait_run(dispatch_id)
        text = metrics(bridge)

    run = trail["run"]
    assert (run["state"], run["result"], run["detail"]) == ("completed", "succeeded", "SUCCESS")
    assert run["external_id"] == "1"
    assert run["url"] == f"{jenkins.url}/job/ml/job/retrain/1/"
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


def test_a_failed_github_run_fails_the_episode(github: FakeGitHub, make_config: Any) -> None:
    github.lifecycle = Lifecycle(start_after=0, run_for=0.2, result="failure")
    with Running(make_config("gh")) as bridge:
        dispatch_id = bridge.fire()
        trail = bridge.wait_run(dispatch_id)
        text = metrics(bridge)

    run = trail["run"]
    assert (run["result"], run["detail"], run["run_attempt"]) == ("failed", "failure", 1)
    assert run["episode_outcome"] == "retraining_failed"
    assert 'drift_bridge_episodes_total{outcome="retraining_failed",route="retrain"} 1.0' in text


def test_the_running_gauge_counts_runs_not_finished(jenkins: FakeJenkins, make_config: Any) -> None:
    with Running(make_config("ci")) as bridge:
        dispatch_id = bridge.fire()
        bridge.wait_run(dispatch_id, "queued")
        text = metrics(bridge)

    assert 'drift_bridge_retrainings_running{route="retrain",target="ci"} 1.0' in text


def test_following_goes_on_after_a_restart(jenkins: FakeJenkins, make_config: Any) -> None:
    config = make_config("ci")
    with Running(config) as bridge:
        dispatch_id = bridge.fire()
        bridge.wait_run(dispatch_id, "queued")
    [build] = jenkins.start_builds()
    jenkins.finish_build(jenkins.jobs["ml/retrain"], build.number, "FAILURE")

    with Running(config) as restarted:
        trail = restarted.wait_run(dispatch_id)

    assert (trail["run"]["result"], trail["run"]["detail"]) == ("failed", "FAILURE")
    assert len(jenkins.builds_of("ml/retrain")) == 1


def test_a_run_without_a_result_in_time_is_timed_out(
    jenkins: FakeJenkins, make_config: Any
) -> None:
    with Running(make_config("ci", result_timeout="1s")) as bridge:
        dispatch_id = bridge.fire()
        trail = bridge.wait_run(dispatch_id)
        text = metrics(bridge)

    assert trail["run"]["result"] == "timed_out"
    assert (
        'drift_bridge_retrainings_total{result="timed_out",route="retrain",target="ci"} 1.0' in text
    )


def test_an_alert_resolved_within_verify_within_was_fixed_by_the_retraining(
    jenkins: FakeJenkins, make_config: Any
) -> None:
    jenkins.lifecycle = Lifecycle(start_after=0, run_for=0, result="SUCCESS")
    with Running(make_config("ci", verify_within="1h")) as bridge:
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
    jenkins: FakeJenkins, make_config: Any
) -> None:
    jenkins.lifecycle = Lifecycle(start_after=0, run_for=0, result="SUCCESS")
    with Running(make_config("ci", verify_within="0s")) as bridge:
        dispatch_id = bridge.fire()
        trail = wait_until(
            lambda: (t := bridge.trail(dispatch_id))["run"] and t["run"]["episode_outcome"] and t,
            10,
            "the episode to be judged",
        )

    assert trail["run"]["episode_outcome"] == "drift_persisted"


def test_looks_stop_while_the_rate_budget_is_down_to_the_reserve(
    github: FakeGitHub, make_config: Any
) -> None:
    # The reserve is above what is left: after the first look, the next waits for the reset.
    with Running(make_config("gh", follow={"rate_reserve": 10_000})) as bridge:
        dispatch_id = bridge.fire()

        def looked_twice() -> dict[str, Any] | None:
            run: dict[str, Any] | None = bridge.trail(dispatch_id)["run"]
            return run if run is not None and run["polls"] >= 2 else None

        run = wait_until(looked_twice, 10, "two looks at the run")
        looks = [r for r in github.received if "/actions/runs/" in r.path]

    assert len(looks) == 1
    # The second "look" only postponed the next one to the reset, an hour away.
    assert seconds(run["next_poll_at"]) > time.time() + 3000

"""The dispatcher against faithful fake Jenkins and GitHub servers: one retry policy for all."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.config import BridgeConfig
from demo.harness.processes import wait_until
from tests.support.bridge import ConfigWriter, Running, auth_headers, seconds
from tests.support.fakes.github import FakeGitHub
from tests.support.fakes.jenkins import FakeJenkins
from tests.support.fakes.webhook import FakeWebhook


@pytest.fixture
def jenkins() -> Iterator[FakeJenkins]:
    with FakeJenkins(csrf=False) as fake:
        fake.add_user("bridge", api_token="api-token")
        fake.add_job("ml/retrain", {"MODEL": "", "DISPATCH_ID": ""})
        yield fake


@pytest.fixture
def jenkins_config(
    write_config: ConfigWriter, config_data: dict[str, Any], tmp_path: Path, jenkins: FakeJenkins
) -> BridgeConfig:
    (tmp_path / "jenkins.token").write_text("api-token")
    config_data["targets"] = {
        "jenkins": {
            "type": "jenkins",
            "url": jenkins.url,
            "job": "ml/retrain",
            "user": "bridge",
            "api_token_file": str(tmp_path / "jenkins.token"),
            "timeout": "1s",
        }
    }
    config_data["routes"][0]["target"] = "jenkins"
    config_data["routes"][0]["parameters"] = {"MODEL": "{{ labels.model }}"}
    return write_config(config_data)


def test_jenkins_down_then_back_the_dispatch_is_sent_once_with_its_queue_item(
    jenkins_config: BridgeConfig, jenkins: FakeJenkins
) -> None:
    jenkins.fail_next(2, 503)
    with Running(jenkins_config) as bridge:
        dispatch_id = bridge.fire()
        trail = bridge.wait_state(dispatch_id, "succeeded")
    assert [a["outcome"] for a in trail["attempts"]] == ["retry", "retry", "success"]
    assert [a["status"] for a in trail["attempts"]] == [503, 503, 201]
    assert trail["attempts"][0]["reason"] == "server_error"
    assert trail["result"]["queue_url"].startswith(f"{jenkins.url}/queue/item/")
    (item,) = jenkins.queue
    assert item.parameters["DISPATCH_ID"] == dispatch_id
    assert item.parameters["MODEL"] == "fraud-detector"
    assert {r.form["DISPATCH_ID"] for r in jenkins.received} == {dispatch_id}


def test_retry_after_is_honoured_beyond_the_backoff(
    jenkins_config: BridgeConfig, jenkins: FakeJenkins
) -> None:
    jenkins.fail_next(1, 429, {"Retry-After": "1"})
    with Running(jenkins_config) as bridge:
        trail = bridge.wait_state(bridge.fire(), "succeeded")
    first, second = trail["attempts"]
    assert first["reason"] == "rate_limited"
    # The configured backoff would retry after 50-100 ms; Jenkins asked for a second.
    assert seconds(second["started_at"]) - seconds(first["finished_at"]) >= 0.95


def test_a_missing_job_fails_at_once_with_jenkins_message(
    jenkins_config: BridgeConfig, jenkins: FakeJenkins
) -> None:
    jenkins.jobs.clear()
    with Running(jenkins_config) as bridge:
        dead = bridge.wait_state(bridge.fire(), "dead")
    (attempt,) = dead["attempts"]
    assert attempt["status"] == 404
    assert attempt["reason"] == "client_error"
    assert "HTTP 404" in dead["last_error"]


def test_connection_refused_is_retried_until_jenkins_listens_again(
    jenkins_config: BridgeConfig, jenkins: FakeJenkins
) -> None:
    jenkins.refuse_connections()
    with Running(jenkins_config) as bridge:
        dispatch_id = bridge.fire()

        def refused_twice() -> bool | None:
            return True if len(bridge.trail(dispatch_id)["attempts"]) >= 2 else None

        wait_until(refused_twice, 10, "two refused attempts")
        jenkins.accept_connections()
        trail = bridge.wait_state(dispatch_id, "succeeded")
    assert {a["reason"] for a in trail["attempts"][:-1]} == {"connection_error"}
    assert len(jenkins.queue) == 1


def test_github_primary_rate_limit_waits_for_the_reset(
    write_config: ConfigWriter, config_data: dict[str, Any], tmp_path: Path
) -> None:
    with FakeGitHub(token="gh-token") as github:
        github.add_workflow("acme", "models", "retrain.yml", inputs=["MODEL", "dispatch_id"])
        # The reset is set now, before the bridge starts: leave room for a slow start-up.
        github.primary_rate_limit(reset_in=4)
        (tmp_path / "gh.token").write_text("gh-token")
        config_data["targets"] = {
            "gh": {
                "type": "github",
                "api_url": github.url,
                "owner": "acme",
                "repo": "models",
                "workflow": "retrain.yml",
                "ref": "main",
                "token_file": str(tmp_path / "gh.token"),
            }
        }
        config_data["routes"][0]["target"] = "gh"
        config_data["routes"][0]["parameters"] = {"MODEL": "{{ labels.model }}"}
        with Running(write_config(config_data)) as bridge:
            trail = bridge.wait_state(bridge.fire(), "succeeded", timeout=15)
        (run,) = github.runs
    first, second = trail["attempts"]
    assert first["status"] == 403
    assert first["reason"] == "rate_limited"
    assert seconds(second["started_at"]) - seconds(first["finished_at"]) >= 1.0
    assert trail["result"]["workflow_run_id"] == run.id
    assert run.inputs["MODEL"] == "fraud-detector"


def test_a_retry_goes_to_the_target_the_route_names_now_with_that_targets_credentials(
    write_config: ConfigWriter, config_data: dict[str, Any], tmp_path: Path
) -> None:
    (tmp_path / "a.token").write_text("SECRET-OF-A")
    (tmp_path / "b.token").write_text("SECRET-OF-B")
    with FakeWebhook() as old, FakeWebhook() as new:
        old.fail_next(1, 404)
        config_data["targets"] = {
            "a": {
                "type": "webhook",
                "url": f"{old.url}/a",
                "bearer_token_file": str(tmp_path / "a.token"),
            },
            "b": {
                "type": "webhook",
                "url": f"{new.url}/b",
                "bearer_token_file": str(tmp_path / "b.token"),
            },
        }
        config_data["routes"][0]["target"] = "a"
        with Running(write_config(config_data)) as bridge:
            dispatch_id = bridge.fire()
            bridge.wait_state(dispatch_id, "dead")
        # The operator points the route at b, restarts, and retries the dead letter.
        config_data["routes"][0]["target"] = "b"
        with Running(write_config(config_data)) as bridge:
            response = bridge.client.post(
                f"/api/dispatches/{dispatch_id}/retry", headers=auth_headers()
            )
            assert response.status_code == 202
            trail = bridge.wait_state(dispatch_id, "succeeded")
        (sent,) = new.received
    assert sent.header("Authorization") == "Bearer SECRET-OF-B"
    assert sent.json["dispatch_id"] == dispatch_id
    assert trail["target"] == "b"
    assert [r.path for r in old.received] == ["/a"]


def test_a_retry_is_refused_while_dry_run_is_on(
    jenkins_config: BridgeConfig,
    jenkins: FakeJenkins,
    write_config: ConfigWriter,
    config_data: dict[str, Any],
) -> None:
    jenkins.jobs.clear()
    with Running(jenkins_config) as bridge:
        dispatch_id = bridge.fire()
        bridge.wait_state(dispatch_id, "dead")
    config_data["dry_run"] = True
    with Running(write_config(config_data)) as bridge:
        refused = bridge.client.post(f"/api/dispatches/{dispatch_id}/retry", headers=auth_headers())
        assert refused.status_code == 409
        assert "dry run is on" in refused.get_json()["error"]
        assert bridge.trail(dispatch_id)["state"] == "dead"

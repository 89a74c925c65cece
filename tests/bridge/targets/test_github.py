"""The GitHub target against the fake GitHub: dispatches, input limits, run details, rate limits."""

import json
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from bridge import __version__
from bridge.targets import DispatchError, FailureReason
from bridge.targets.github import GitHubTarget
from tests.support.fakes.github import FakeGitHub
from tests.support.targets import GITHUB_TOKEN, make_job, stored, target_from

DISPATCHES = "/repos/acme/models/actions/workflows/retrain.yml/dispatches"


def github_target(fake: FakeGitHub, secrets: Path, **overrides: Any) -> GitHubTarget:
    """A workflow_dispatch target for acme/models retrain.yml on main, unless overridden."""
    settings: dict[str, Any] = {
        "type": "github",
        "api_url": fake.url,
        "owner": "acme",
        "repo": "models",
        "workflow": "retrain.yml",
        "ref": "main",
        "token_file": str(secrets / "github-token"),
        "timeout": "2s",
    }
    settings.update(overrides)
    target = target_from({k: v for k, v in settings.items() if v is not None})
    assert isinstance(target, GitHubTarget)
    return target


def repository_dispatch_target(fake: FakeGitHub, secrets: Path, event_type: str) -> GitHubTarget:
    """A repository_dispatch target for acme/models."""
    return github_target(
        fake,
        secrets,
        mode="repository_dispatch",
        event_type=event_type,
        workflow=None,
        ref=None,
    )


def many(count: int) -> dict[str, str]:
    """``count`` route parameters."""
    return {f"p{i:02}": "x" for i in range(count)}


def test_workflow_dispatch_records_the_run_id_and_urls(
    github: FakeGitHub, secrets_dir: Path
) -> None:
    target = github_target(github, secrets_dir)

    result = target.send(target.prepare(make_job(dispatch_id="drb-1")))

    [run] = github.runs
    assert result.status == 200
    assert result.details == {
        "workflow_run_id": run.id,
        "run_url": f"{github.url}/repos/acme/models/actions/runs/{run.id}",
        "html_url": f"{github.root}/acme/models/actions/runs/{run.id}",
    }
    assert run.display_title == "retrain drb-1"
    assert github.received[0].json == {
        "ref": "main",
        "inputs": {"MODEL": "churn", "dispatch_id": "drb-1"},
        "return_run_details": True,
    }


def test_without_run_details_a_204_is_success(github: FakeGitHub, secrets_dir: Path) -> None:
    target = github_target(github, secrets_dir, return_run_details=False)

    result = target.send(target.prepare(make_job()))

    assert result.status == 204
    assert result.details == {}
    assert "return_run_details" not in github.received[0].json
    assert len(github.runs) == 1


def test_dispatch_id_input_name_is_configurable(github: FakeGitHub, secrets_dir: Path) -> None:
    target = github_target(github, secrets_dir, dispatch_id_input="run_key")

    target.send(target.prepare(make_job({}, dispatch_id="drb-3")))

    assert github.runs[0].inputs == {"run_key": "drb-3"}


def test_sends_the_documented_headers_and_bearer_token(
    github: FakeGitHub, secrets_dir: Path
) -> None:
    target = github_target(github, secrets_dir)

    target.send(target.prepare(make_job()))

    [received] = github.received
    assert received.header("Accept") == "application/vnd.github+json"
    assert received.header("X-GitHub-Api-Version") == "2022-11-28"
    assert received.header("Authorization") == f"Bearer {GITHUB_TOKEN}"
    assert received.header("User-Agent") == f"drift-retrain-bridge/{__version__}"


def test_token_is_never_in_the_request_or_an_error(github: FakeGitHub, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("github_pat_revoked_value\n")
    target = github_target(github, tmp_path, token_file=str(token))

    request = target.prepare(make_job())
    with pytest.raises(DispatchError) as caught:
        target.send(request)

    assert "github_pat_revoked_value" not in json.dumps(request)
    assert "github_pat_revoked_value" not in caught.value.message
    assert caught.value.status == 401
    assert caught.value.reason == FailureReason.AUTH_ERROR
    assert "Bad credentials" in caught.value.message


def test_ref_is_a_template(github: FakeGitHub, secrets_dir: Path) -> None:
    target = github_target(github, secrets_dir, ref="release/{{ labels.model }}")

    target.send(target.prepare(make_job()))

    assert github.runs[0].ref == "release/churn"


def test_unknown_ref_fails_with_githubs_message(github: FakeGitHub, secrets_dir: Path) -> None:
    target = github_target(github, secrets_dir, ref="nope")

    with pytest.raises(DispatchError) as caught:
        target.send(target.prepare(make_job()))

    assert caught.value.status == 422
    assert caught.value.retryable is False
    assert "No ref found for: nope" in caught.value.message


def test_inputs_the_workflow_does_not_declare_fail_with_githubs_message(
    github: FakeGitHub, secrets_dir: Path
) -> None:
    github.add_workflow("acme", "models", "strict.yml", inputs=["dispatch_id"])
    target = github_target(github, secrets_dir, workflow="strict.yml")

    with pytest.raises(DispatchError) as caught:
        target.send(target.prepare(make_job({"MODEL": "churn"})))

    assert caught.value.status == 422
    assert 'Unexpected inputs provided: ["MODEL"]' in caught.value.message


def test_exactly_25_inputs_are_sent(github: FakeGitHub, secrets_dir: Path) -> None:
    target = github_target(github, secrets_dir)

    target.send(target.prepare(make_job(many(24))))

    assert len(github.runs[0].inputs) == 25


def test_more_than_25_inputs_are_refused_before_sending(
    github: FakeGitHub, secrets_dir: Path
) -> None:
    target = github_target(github, secrets_dir)

    with pytest.raises(DispatchError) as caught:
        target.prepare(make_job(many(25)))

    assert caught.value.reason == FailureReason.INVALID_REQUEST
    assert caught.value.retryable is False
    assert "at most 25" in caught.value.message
    assert "has 26" in caught.value.message
    assert github.received == []


def inputs_json_size(parameters: dict[str, str], dispatch_id: str = "drb-0001") -> int:
    """The size GitHub measures: compact JSON of the inputs."""
    inputs = {**parameters, "dispatch_id": dispatch_id}
    return len(json.dumps(inputs, separators=(",", ":"), ensure_ascii=False))


def test_inputs_of_exactly_65535_characters_are_sent(github: FakeGitHub, secrets_dir: Path) -> None:
    padding = 65_535 - inputs_json_size({"BIG": ""})
    parameters = {"BIG": "y" * padding}
    assert inputs_json_size(parameters) == 65_535
    target = github_target(github, secrets_dir)

    target.send(target.prepare(make_job(parameters)))

    assert len(github.runs) == 1


def test_inputs_over_65535_characters_are_refused_before_sending(
    github: FakeGitHub, secrets_dir: Path
) -> None:
    parameters = {"BIG": "é" * 70_000}
    target = github_target(github, secrets_dir)

    with pytest.raises(DispatchError) as caught:
        target.prepare(make_job(parameters))

    assert caught.value.reason == FailureReason.INVALID_REQUEST
    assert "65,535" in caught.value.message
    assert f"{inputs_json_size(parameters):,}" in caught.value.message
    assert github.received == []


def test_server_rejecting_run_details_is_asked_again_without_them_once_then_never(
    secrets_dir: Path,
) -> None:
    with FakeGitHub(token=GITHUB_TOKEN, supports_run_details=False) as old_ghes:
        old_ghes.add_workflow("acme", "models", "retrain.yml")
        target = github_target(old_ghes, secrets_dir)

        first = target.send(target.prepare(make_job(dispatch_id="drb-1")))
        sent_first = old_ghes.received
        old_ghes.clear_received()
        second = target.send(target.prepare(make_job(dispatch_id="drb-2")))

        assert [r.json.get("return_run_details") for r in sent_first] == [True, None]
        assert [r.json.get("return_run_details") for r in old_ghes.received] == [None]
        assert (first.status, second.status) == (204, 204)
        assert len(old_ghes.runs) == 2


def test_fallback_is_not_remembered_when_the_rejection_was_about_something_else(
    github: FakeGitHub, secrets_dir: Path
) -> None:
    target = github_target(github, secrets_dir, ref="nope")

    with pytest.raises(DispatchError) as caught:
        target.send(target.prepare(make_job()))

    assert [r.json.get("return_run_details") for r in github.received] == [True, None]
    assert "No ref found" in caught.value.message
    assert target.run_details_supported is None


def test_primary_rate_limit_is_retried_after_the_reset(
    github: FakeGitHub, secrets_dir: Path
) -> None:
    github.primary_rate_limit(reset_in=30)
    target = github_target(github, secrets_dir)

    with pytest.raises(DispatchError) as caught:
        target.send(target.prepare(make_job()))

    assert caught.value.retryable is True
    assert caught.value.reason == FailureReason.RATE_LIMITED
    assert caught.value.retry_after is not None
    assert 25 <= caught.value.retry_after <= 30


def test_primary_rate_limit_as_429_is_retried_after_the_reset(
    github: FakeGitHub, secrets_dir: Path
) -> None:
    github.primary_rate_limit(reset_in=120, status=429)
    target = github_target(github, secrets_dir)

    with pytest.raises(DispatchError) as caught:
        target.send(target.prepare(make_job()))

    assert caught.value.reason == FailureReason.RATE_LIMITED
    assert caught.value.retry_after is not None
    assert 115 <= caught.value.retry_after <= 120


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_rate_limit_honours_retry_after(
    github: FakeGitHub, secrets_dir: Path, status: int
) -> None:
    github.secondary_rate_limit(status=status, retry_after=17)
    target = github_target(github, secrets_dir)

    with pytest.raises(DispatchError) as caught:
        target.send(target.prepare(make_job()))

    assert caught.value.retryable is True
    assert caught.value.reason == FailureReason.RATE_LIMITED
    assert caught.value.retry_after == 17.0


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_rate_limit_without_retry_after_waits_at_least_a_minute(
    github: FakeGitHub, secrets_dir: Path, status: int
) -> None:
    github.secondary_rate_limit(status=status)
    target = github_target(github, secrets_dir)

    with pytest.raises(DispatchError) as caught:
        target.send(target.prepare(make_job()))

    assert caught.value.retryable is True
    assert caught.value.reason == FailureReason.RATE_LIMITED
    assert caught.value.retry_after is not None
    assert caught.value.retry_after >= 60


def test_forbidden_without_a_rate_limit_is_an_auth_error(secrets_dir: Path) -> None:
    read_only = "github_pat_read_only"
    (secrets_dir / "read-only").write_text(read_only)
    with FakeGitHub(token=GITHUB_TOKEN, read_only_token=read_only) as github:
        github.add_workflow("acme", "models", "retrain.yml")
        target = github_target(github, secrets_dir, token_file=str(secrets_dir / "read-only"))

        with pytest.raises(DispatchError) as caught:
            target.send(target.prepare(make_job()))

    assert caught.value.status == 403
    assert caught.value.retryable is False
    assert caught.value.reason == FailureReason.AUTH_ERROR
    assert "Resource not accessible" in caught.value.message


def test_enterprise_server_api_url_keeps_its_base_path(secrets_dir: Path) -> None:
    with FakeGitHub(token=GITHUB_TOKEN, base_path="/api/v3") as ghes:
        ghes.add_workflow("acme", "models", "retrain.yml")
        target = github_target(ghes, secrets_dir)

        result = target.send(target.prepare(make_job()))

        assert ghes.url.endswith("/api/v3")
        assert ghes.received[0].path == "/api/v3" + DISPATCHES
        assert result.details["run_url"].startswith(f"{ghes.url}/repos/acme/models/")


def test_path_parts_are_url_encoded(github: FakeGitHub, secrets_dir: Path) -> None:
    github.add_workflow("acme", "models", "retrain model.yml")
    target = github_target(github, secrets_dir, workflow="retrain model.yml")

    target.send(target.prepare(make_job()))

    assert github.received[0].path == (
        "/repos/acme/models/actions/workflows/retrain%20model.yml/dispatches"
    )


def test_numeric_workflow_id_is_accepted(github: FakeGitHub, secrets_dir: Path) -> None:
    workflow = github.add_workflow("acme", "models", "by-id.yml")
    target = github_target(github, secrets_dir, workflow=str(workflow.id))

    target.send(target.prepare(make_job()))

    assert github.runs[0].workflow is workflow


def test_repository_dispatch_sends_event_type_and_payload(
    github: FakeGitHub, secrets_dir: Path
) -> None:
    target = repository_dispatch_target(github, secrets_dir, "retrain-{{ labels.model }}")

    request = target.prepare(make_job({"MODEL": "churn"}, dispatch_id="drb-4"))
    result = target.send(request)

    assert result.status == 204
    assert request["url"] == f"{github.url}/repos/acme/models/dispatches"
    assert github.repository_dispatches == [
        ("retrain-churn", {"dispatch_id": "drb-4", "parameters": {"MODEL": "churn"}})
    ]


def test_repository_dispatch_payload_stays_within_ten_keys_with_many_parameters(
    github: FakeGitHub, secrets_dir: Path
) -> None:
    target = repository_dispatch_target(github, secrets_dir, "retrain")

    target.send(target.prepare(make_job(many(30))))

    [(_, payload)] = github.repository_dispatches
    assert len(payload) <= 10
    assert len(payload["parameters"]) == 30


def test_repository_dispatch_event_type_over_100_characters_is_refused_before_sending(
    github: FakeGitHub, secrets_dir: Path
) -> None:
    target = repository_dispatch_target(github, secrets_dir, "{{ labels.model }}")

    with pytest.raises(DispatchError) as caught:
        target.prepare(make_job(model="m" * 101))

    assert caught.value.reason == FailureReason.INVALID_REQUEST
    assert "1-100" in caught.value.message
    assert "101" in caught.value.message
    assert github.received == []


def test_stored_request_is_sent_by_a_target_built_after_a_restart(
    github: FakeGitHub, secrets_dir: Path
) -> None:
    request = stored(github_target(github, secrets_dir).prepare(make_job(dispatch_id="drb-8")))

    result = github_target(github, secrets_dir).send(request)

    assert result.status == 200
    assert github.runs[0].inputs["dispatch_id"] == "drb-8"


def test_dispatched_run_can_be_found_by_its_display_title(
    github: FakeGitHub, secrets_dir: Path
) -> None:
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    target = github_target(github, secrets_dir, return_run_details=False)
    target.send(target.prepare(make_job(dispatch_id="drb-find-me")))

    answer = requests.get(
        f"{github.url}/repos/acme/models/actions/workflows/retrain.yml/runs",
        params={"event": "workflow_dispatch", "created": f">={since}"},
        headers={"Authorization": f"Bearer {GITHUB_TOKEN}"},
        timeout=5,
    ).json()

    titles = [run["display_title"] for run in answer["workflow_runs"]]
    assert titles == ["retrain drb-find-me"]

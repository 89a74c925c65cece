"""The Jenkins target against the fake Jenkins: folders, auth and crumbs, queue items, merges."""

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest

from bridge.targets import DispatchError, FailureReason, Target
from tests.support.fakes.jenkins import FakeJenkins
from tests.support.targets import (
    BUILD_TOKEN,
    JENKINS_PASSWORD,
    JENKINS_TOKEN,
    make_job,
    stored,
    target_from,
)


def jenkins_target(fake: FakeJenkins, secrets: Path, **overrides: Any) -> Target:
    """A Jenkins target for ml/retrain as user bot with an API token, unless overridden."""
    settings: dict[str, Any] = {
        "type": "jenkins",
        "url": fake.url,
        "job": "ml/retrain",
        "user": "bot",
        "api_token_file": str(secrets / "jenkins-token"),
        "timeout": "2s",
    }
    settings.update(overrides)
    return target_from({k: v for k, v in settings.items() if v is not None})


def basic_auth(user: str, secret: str) -> str:
    """The Authorization header a client sends for ``user:secret``."""
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


def test_job_folders_become_job_path_segments_under_the_context_path(
    jenkins: FakeJenkins, secrets_dir: Path
) -> None:
    jenkins.add_job("ml/nightly/retrain", {"MODEL": ""})
    target = jenkins_target(jenkins, secrets_dir, job="ml/nightly/retrain")

    target.send(target.prepare(make_job()))

    assert (
        jenkins.received[-1].path == "/jenkins/job/ml/job/nightly/job/retrain/buildWithParameters"
    )
    assert jenkins.queue[0].job.full_name == "ml/nightly/retrain"


def test_templated_job_segment_is_url_encoded(jenkins: FakeJenkins, secrets_dir: Path) -> None:
    jenkins.add_job("ml/churn v2?#&x", {"MODEL": ""})
    target = jenkins_target(jenkins, secrets_dir, job="ml/{{ labels.model }}")

    target.send(target.prepare(make_job(model="churn v2?#&x")))

    assert (
        jenkins.received[-1].path == "/jenkins/job/ml/job/churn%20v2%3F%23%26x/buildWithParameters"
    )
    assert jenkins.queue[0].job.full_name == "ml/churn v2?#&x"


def test_slash_in_a_templated_segment_cannot_reach_another_job(
    jenkins: FakeJenkins, secrets_dir: Path
) -> None:
    jenkins.add_job("ml/a/b", {"MODEL": ""})
    target = jenkins_target(jenkins, secrets_dir, job="ml/{{ labels.model }}")

    request = target.prepare(make_job(model="a/b"))
    with pytest.raises(DispatchError) as caught:
        target.send(request)

    assert "/job/ml/job/a%2Fb/buildWithParameters" in request["url"]
    assert caught.value.status == 404
    assert jenkins.queue == []


@pytest.mark.parametrize("segment", [".", "..", ""])
def test_dot_or_empty_segment_from_the_alert_is_an_invalid_request(
    jenkins: FakeJenkins, secrets_dir: Path, segment: str
) -> None:
    target = jenkins_target(jenkins, secrets_dir, job="ml/{{ labels.model }}")

    with pytest.raises(DispatchError) as caught:
        target.prepare(make_job(model=segment))

    assert caught.value.reason == FailureReason.INVALID_REQUEST
    assert "targets.t.job" in caught.value.message


def test_missing_template_variable_names_the_setting(
    jenkins: FakeJenkins, secrets_dir: Path
) -> None:
    target = jenkins_target(jenkins, secrets_dir, job="ml/{{ labels.pipeline }}")

    with pytest.raises(DispatchError) as caught:
        target.prepare(make_job())

    assert caught.value.reason == FailureReason.INVALID_REQUEST
    assert caught.value.retryable is False
    assert "targets.t.job" in caught.value.message
    assert "pipeline" in caught.value.message


def test_parameters_are_sent_as_a_form_body_with_the_dispatch_id(
    jenkins: FakeJenkins, secrets_dir: Path
) -> None:
    target = jenkins_target(jenkins, secrets_dir)

    target.send(target.prepare(make_job({"MODEL": "churn"}, dispatch_id="drb-77")))

    assert jenkins.received[-1].form == {"MODEL": "churn", "DISPATCH_ID": "drb-77"}
    assert jenkins.received[-1].query == {}
    assert jenkins.queue[0].parameters == {"MODEL": "churn", "DISPATCH_ID": "drb-77"}


def test_dispatch_id_parameter_name_is_configurable(
    jenkins: FakeJenkins, secrets_dir: Path
) -> None:
    jenkins.add_job("ml/retrain", {"MODEL": "", "RUN_ID": ""})
    target = jenkins_target(jenkins, secrets_dir, dispatch_id_parameter="RUN_ID")

    target.send(target.prepare(make_job(dispatch_id="drb-5")))

    assert jenkins.queue[0].parameters == {"MODEL": "churn", "RUN_ID": "drb-5"}


def test_route_parameter_colliding_with_the_dispatch_id_is_invalid(
    jenkins: FakeJenkins, secrets_dir: Path
) -> None:
    target = jenkins_target(jenkins, secrets_dir)

    with pytest.raises(DispatchError) as caught:
        target.prepare(make_job({"DISPATCH_ID": "mine"}))

    assert caught.value.reason == FailureReason.INVALID_REQUEST
    assert "dispatch_id_parameter" in caught.value.message


def test_api_token_user_sends_basic_auth_and_no_crumb(
    jenkins: FakeJenkins, secrets_dir: Path
) -> None:
    target = jenkins_target(jenkins, secrets_dir)

    target.send(target.prepare(make_job()))

    [post] = jenkins.received
    assert post.method == "POST"
    assert post.header("Authorization") == basic_auth("bot", JENKINS_TOKEN)
    assert post.header("Jenkins-Crumb") is None


def test_password_user_fetches_a_crumb_and_sends_it_with_the_session_cookie(
    jenkins: FakeJenkins, secrets_dir: Path
) -> None:
    target = jenkins_target(
        jenkins,
        secrets_dir,
        user="alice",
        api_token_file=None,
        password_file=str(secrets_dir / "jenkins-password"),
    )

    result = target.send(target.prepare(make_job()))

    crumb_request, post = jenkins.received
    assert (crumb_request.method, crumb_request.path) == ("GET", "/jenkins/crumbIssuer/api/json")
    assert crumb_request.header("Authorization") == basic_auth("alice", JENKINS_PASSWORD)
    assert post.header("Jenkins-Crumb")
    assert any(name.startswith("JSESSIONID.") for name in post.cookies)
    assert result.status == 201


def test_each_attempt_gets_a_fresh_crumb_session(jenkins: FakeJenkins, secrets_dir: Path) -> None:
    target = jenkins_target(
        jenkins,
        secrets_dir,
        user="alice",
        api_token_file=None,
        password_file=str(secrets_dir / "jenkins-password"),
    )

    target.send(target.prepare(make_job(dispatch_id="drb-1")))
    target.send(target.prepare(make_job(dispatch_id="drb-2")))

    crumb_requests = [r for r in jenkins.received if r.method == "GET"]
    assert len(crumb_requests) == 2
    assert all(r.cookies == {} for r in crumb_requests)
    assert len(jenkins.queue) == 2


def test_crumb_issuer_404_means_csrf_is_off_and_the_post_goes_on(
    secrets_dir: Path,
) -> None:
    with FakeJenkins(csrf=False) as jenkins:
        jenkins.add_user("alice", password=JENKINS_PASSWORD)
        jenkins.add_job("ml/retrain", {"MODEL": ""})
        target = jenkins_target(
            jenkins,
            secrets_dir,
            user="alice",
            api_token_file=None,
            password_file=str(secrets_dir / "jenkins-password"),
        )

        result = target.send(target.prepare(make_job()))

        assert [r.method for r in jenkins.received] == ["GET", "POST"]
        assert jenkins.received[1].header("Jenkins-Crumb") is None
        assert result.status == 201


def test_wrong_password_fails_at_the_crumb_with_an_auth_error(
    jenkins: FakeJenkins, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not-the-password\n")
    target = jenkins_target(
        jenkins, tmp_path, user="alice", api_token_file=None, password_file=str(wrong)
    )

    with pytest.raises(DispatchError) as caught:
        target.send(target.prepare(make_job()))

    assert caught.value.reason == FailureReason.AUTH_ERROR
    assert caught.value.retryable is False
    assert "crumb issuer" in caught.value.message
    assert "Invalid password/token for user: alice" in caught.value.message
    assert [r.method for r in jenkins.received] == ["GET"]


def test_bad_api_token_is_an_auth_error_without_the_token(
    jenkins: FakeJenkins, tmp_path: Path
) -> None:
    wrong = tmp_path / "token"
    wrong.write_text("revoked-token-value\n")
    target = jenkins_target(jenkins, tmp_path, api_token_file=str(wrong))

    with pytest.raises(DispatchError) as caught:
        target.send(target.prepare(make_job()))

    assert caught.value.status == 401
    assert caught.value.reason == FailureReason.AUTH_ERROR
    assert "Invalid password/token for user: bot" in caught.value.message
    assert "revoked-token-value" not in caught.value.message


def test_build_token_alone_triggers_anonymously_with_a_crumb(
    jenkins: FakeJenkins, secrets_dir: Path
) -> None:
    target = jenkins_target(
        jenkins,
        secrets_dir,
        user=None,
        api_token_file=None,
        build_token_file=str(secrets_dir / "build-token"),
    )

    request = target.prepare(make_job())
    result = target.send(request)

    crumb_request, post = jenkins.received
    assert crumb_request.header("Authorization") is None
    assert post.form["token"] == BUILD_TOKEN
    assert post.header("Jenkins-Crumb")
    assert result.status == 201
    assert BUILD_TOKEN not in json.dumps(request)


def test_build_token_with_an_api_token_user(jenkins: FakeJenkins, secrets_dir: Path) -> None:
    target = jenkins_target(jenkins, secrets_dir, build_token_file=str(secrets_dir / "build-token"))

    target.send(target.prepare(make_job()))

    [post] = jenkins.received
    assert post.form["token"] == BUILD_TOKEN
    assert post.header("Authorization") == basic_auth("bot", JENKINS_TOKEN)


def test_wrong_build_token_is_an_auth_error(jenkins: FakeJenkins, tmp_path: Path) -> None:
    wrong = tmp_path / "build-token"
    wrong.write_text("guessed\n")
    target = jenkins_target(
        jenkins, tmp_path, user=None, api_token_file=None, build_token_file=str(wrong)
    )

    with pytest.raises(DispatchError) as caught:
        target.send(target.prepare(make_job()))

    assert caught.value.status == 403
    assert caught.value.reason == FailureReason.AUTH_ERROR
    assert "Invalid token provided" in caught.value.message


def test_new_queue_item_url_is_recorded(jenkins: FakeJenkins, secrets_dir: Path) -> None:
    target = jenkins_target(jenkins, secrets_dir)

    result = target.send(target.prepare(make_job()))

    assert result.status == 201
    assert result.details == {"queue_url": f"{jenkins.url}/queue/item/1/"}
    assert "queue/item/1/" in result.summary


def test_identical_request_already_queued_is_a_merged_success(
    jenkins: FakeJenkins, secrets_dir: Path
) -> None:
    target = jenkins_target(jenkins, secrets_dir)
    request = target.prepare(make_job())
    first = target.send(request)

    again = target.send(request)

    assert again.status == 303
    assert again.details == {"queue_url": first.details["queue_url"], "merged": True}
    assert len(jenkins.queue) == 1


def test_303_to_anything_but_a_queue_item_is_not_a_merge(
    jenkins: FakeJenkins, secrets_dir: Path
) -> None:
    jenkins.fail_next(1, 303, {"Location": "https://sso.example.com/login?from=%2Fjenkins"})
    target = jenkins_target(jenkins, secrets_dir)

    with pytest.raises(DispatchError) as caught:
        target.send(target.prepare(make_job()))

    assert caught.value.reason == FailureReason.CLIENT_ERROR
    assert caught.value.retryable is False
    assert "sso.example.com/login" in caught.value.message


def test_two_dispatches_with_the_same_parameters_are_not_merged(
    jenkins: FakeJenkins, secrets_dir: Path
) -> None:
    target = jenkins_target(jenkins, secrets_dir)

    first = target.send(target.prepare(make_job({"MODEL": "churn"}, dispatch_id="drb-1")))
    second = target.send(target.prepare(make_job({"MODEL": "churn"}, dispatch_id="drb-2")))

    assert (first.status, second.status) == (201, 201)
    assert first.details["queue_url"] != second.details["queue_url"]
    assert [item.parameters["DISPATCH_ID"] for item in jenkins.queue] == ["drb-1", "drb-2"]


def test_attempt_that_timed_out_but_was_queued_merges_on_retry(
    jenkins: FakeJenkins, secrets_dir: Path
) -> None:
    target = jenkins_target(jenkins, secrets_dir, timeout="200ms")
    request = target.prepare(make_job())
    jenkins.delay = 0.5
    with pytest.raises(DispatchError) as caught:
        target.send(request)
    assert caught.value.reason == FailureReason.TIMEOUT
    deadline = time.monotonic() + 5
    while not jenkins.queue and time.monotonic() < deadline:
        time.sleep(0.02)
    jenkins.delay = 0

    retried = target.send(stored(request))

    assert retried.status == 303
    assert retried.details["merged"] is True
    assert len(jenkins.queue) == 1


@pytest.mark.parametrize(
    ("setup", "status", "message"),
    [
        ("missing", 404, "Not Found"),
        ("disabled", 409, "ml/retrain is not buildable"),
        ("not parameterized", 400, "ml/retrain is not parameterized"),
    ],
)
def test_job_problems_fail_at_once_with_jenkins_message(
    jenkins: FakeJenkins, secrets_dir: Path, setup: str, status: int, message: str
) -> None:
    if setup == "missing":
        del jenkins.jobs["ml/retrain"]
    elif setup == "disabled":
        jenkins.add_job("ml/retrain", {"MODEL": ""}, disabled=True)
    else:
        jenkins.add_job("ml/retrain", None)
    target = jenkins_target(jenkins, secrets_dir)

    with pytest.raises(DispatchError) as caught:
        target.send(target.prepare(make_job()))

    assert caught.value.status == status
    assert caught.value.retryable is False
    assert caught.value.reason == FailureReason.CLIENT_ERROR
    assert message in caught.value.message


def test_delay_is_sent_as_a_quiet_period_in_seconds(
    jenkins: FakeJenkins, secrets_dir: Path
) -> None:
    target = jenkins_target(jenkins, secrets_dir, delay="30s")

    request = target.prepare(make_job())
    target.send(request)

    assert request["query"] == {"delay": "30sec"}
    assert jenkins.received[-1].query == {"delay": "30sec"}
    assert jenkins.queue[0].quiet_period == 30.0


def test_request_describes_auth_but_holds_no_secret(
    jenkins: FakeJenkins, secrets_dir: Path
) -> None:
    target = jenkins_target(jenkins, secrets_dir, build_token_file=str(secrets_dir / "build-token"))

    request = target.prepare(make_job())

    text = json.dumps(request)
    assert JENKINS_TOKEN not in text
    assert BUILD_TOKEN not in text
    assert request["auth"] == "user bot with an API token and the job's build token"
    assert request["method"] == "POST"
    assert request["url"] == f"{jenkins.url}/job/ml/job/retrain/buildWithParameters"


def test_stored_request_is_sent_by_a_target_built_after_a_restart(
    jenkins: FakeJenkins, secrets_dir: Path
) -> None:
    request = stored(jenkins_target(jenkins, secrets_dir).prepare(make_job(dispatch_id="drb-9")))

    result = jenkins_target(jenkins, secrets_dir).send(request)

    assert result.status == 201
    assert jenkins.queue[0].parameters["DISPATCH_ID"] == "drb-9"


def test_unreadable_secret_at_send_time_is_an_auth_error(
    jenkins: FakeJenkins, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text(JENKINS_TOKEN)
    target = jenkins_target(jenkins, tmp_path, api_token_file=str(token))
    request = target.prepare(make_job())
    token.unlink()
    time.sleep(1.1)  # secrets are read again once their value is a second old

    with pytest.raises(DispatchError) as caught:
        target.send(request)

    assert caught.value.reason == FailureReason.AUTH_ERROR
    assert str(token) in caught.value.message
    assert jenkins.received == []

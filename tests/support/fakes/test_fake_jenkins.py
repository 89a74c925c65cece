"""The fake Jenkins behaves as API-NOTES describes Jenkins, so tests built on it mean something."""

from collections.abc import Iterator

import pytest
import requests

from tests.support.fakes.jenkins import FakeJenkins

TOKEN = ("bot", "api-token")
PASSWORD = ("alice", "password")


@pytest.fixture
def jenkins() -> Iterator[FakeJenkins]:
    """Context path /ci, job ml/retrain with parameters MODEL (default base) and ID."""
    with FakeJenkins(context_path="/ci") as fake:
        fake.add_user("bot", api_token="api-token")
        fake.add_user("alice", password="password")
        fake.add_job("ml/retrain", {"MODEL": "base", "ID": ""})
        yield fake


def build_url(jenkins: FakeJenkins) -> str:
    """buildWithParameters of ml/retrain."""
    return f"{jenkins.url}/job/ml/job/retrain/buildWithParameters"


def test_new_build_is_201_with_an_absolute_queue_item_location(jenkins: FakeJenkins) -> None:
    answer = requests.post(build_url(jenkins), data={"ID": "1"}, auth=TOKEN, timeout=5)

    assert answer.status_code == 201
    assert answer.headers["Location"] == f"{jenkins.root}/ci/queue/item/1/"
    assert answer.headers["X-Jenkins"]


def test_unknown_parameters_are_ignored_and_missing_ones_take_their_default(
    jenkins: FakeJenkins,
) -> None:
    requests.post(build_url(jenkins), data={"ID": "1", "NOT_DEFINED": "x"}, auth=TOKEN, timeout=5)

    assert jenkins.queue[0].parameters == {"MODEL": "base", "ID": "1"}


def test_identical_parameters_already_waiting_are_merged_with_303(jenkins: FakeJenkins) -> None:
    first = requests.post(build_url(jenkins), data={"ID": "1"}, auth=TOKEN, timeout=5)
    again = requests.post(
        build_url(jenkins), data={"ID": "1"}, auth=TOKEN, timeout=5, allow_redirects=False
    )
    other = requests.post(build_url(jenkins), data={"ID": "2"}, auth=TOKEN, timeout=5)

    assert again.status_code == 303
    assert again.headers["Location"] == first.headers["Location"]
    assert other.status_code == 201
    assert len(jenkins.queue) == 2


def test_an_item_that_left_the_queue_is_not_merged_into(jenkins: FakeJenkins) -> None:
    requests.post(build_url(jenkins), data={"ID": "1"}, auth=TOKEN, timeout=5)
    jenkins.start_builds()

    again = requests.post(build_url(jenkins), data={"ID": "1"}, auth=TOKEN, timeout=5)

    assert again.status_code == 201


def test_queue_item_has_the_documented_fields_while_waiting_and_after_leaving(
    jenkins: FakeJenkins,
) -> None:
    location = requests.post(
        build_url(jenkins), data={"ID": "1"}, params={"delay": "30sec"}, auth=TOKEN, timeout=5
    ).headers["Location"]

    waiting = requests.get(f"{location}api/json", auth=TOKEN, timeout=5).json()
    jenkins.start_builds()
    left = requests.get(f"{location}api/json", auth=TOKEN, timeout=5).json()

    assert waiting["_class"] == "hudson.model.Queue$WaitingItem"
    assert {"id", "why", "blocked", "buildable", "stuck", "inQueueSince", "task"} <= set(waiting)
    assert waiting["why"].startswith("In the quiet period")
    assert waiting["task"]["url"] == f"{jenkins.url}/job/ml/job/retrain/"
    assert left["_class"] == "hudson.model.Queue$LeftItem"
    assert left["cancelled"] is False
    assert left["executable"] == {
        "_class": "hudson.model.FreeStyleBuild",
        "number": 1,
        "url": f"{jenkins.url}/job/ml/job/retrain/1/",
    }


def test_build_reports_its_parameters_and_is_done_once_it_has_a_result(
    jenkins: FakeJenkins,
) -> None:
    requests.post(build_url(jenkins), data={"ID": "7"}, auth=TOKEN, timeout=5)
    [build] = jenkins.start_builds()
    url = f"{jenkins.url}/job/ml/job/retrain/{build.number}/api/json"

    running = requests.get(url, auth=TOKEN, timeout=5).json()
    jenkins.finish_build(jenkins.jobs["ml/retrain"], build.number, "FAILURE")
    done = requests.get(url, auth=TOKEN, timeout=5).json()

    assert (running["building"], running["result"]) == (True, None)
    assert (done["building"], done["result"]) == (False, "FAILURE")
    [action] = [a for a in done["actions"] if a["_class"] == "hudson.model.ParametersAction"]
    assert {p["name"]: p["value"] for p in action["parameters"]} == {"MODEL": "base", "ID": "7"}
    assert done["queueId"] == 1


def test_password_user_post_without_a_crumb_is_refused(jenkins: FakeJenkins) -> None:
    answer = requests.post(build_url(jenkins), data={"ID": "1"}, auth=PASSWORD, timeout=5)

    assert answer.status_code == 403
    assert "<title>Error 403 No valid crumb was included in the request</title>" in answer.text
    assert jenkins.queue == []


def test_crumb_is_only_valid_with_the_session_cookie_it_was_issued_with(
    jenkins: FakeJenkins,
) -> None:
    with requests.Session() as session:
        session.auth = PASSWORD
        crumb = session.get(f"{jenkins.url}/crumbIssuer/api/json", timeout=5).json()
        header = {crumb["crumbRequestField"]: crumb["crumb"]}
        without_cookie = requests.post(
            build_url(jenkins), data={"ID": "1"}, headers=header, auth=PASSWORD, timeout=5
        )
        with_cookie = session.post(build_url(jenkins), data={"ID": "1"}, headers=header, timeout=5)

    assert crumb["crumbRequestField"] == "Jenkins-Crumb"
    assert without_cookie.status_code == 403
    assert with_cookie.status_code == 201


def test_api_token_needs_no_crumb(jenkins: FakeJenkins) -> None:
    assert requests.post(build_url(jenkins), auth=TOKEN, timeout=5).status_code == 201


def test_bad_credentials_are_401_with_a_basic_challenge(jenkins: FakeJenkins) -> None:
    answer = requests.post(build_url(jenkins), auth=("bot", "wrong"), timeout=5)

    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Basic realm="Jenkins"'
    assert "Invalid password/token for user: bot" in answer.text


def test_anonymous_without_a_build_token_is_refused() -> None:
    with FakeJenkins(csrf=False) as open_jenkins:
        open_jenkins.add_job("retrain", {"ID": ""}, token="tok")
        url = f"{open_jenkins.url}/job/retrain/buildWithParameters"

        refused = requests.post(url, timeout=5)
        accepted = requests.post(url, data={"token": "tok"}, timeout=5)

    assert refused.status_code == 403
    assert accepted.status_code == 201


def test_csrf_off_has_no_crumb_issuer() -> None:
    with FakeJenkins(csrf=False) as jenkins:
        jenkins.add_user("alice", password="password")

        assert requests.get(f"{jenkins.url}/crumbIssuer/api/json", timeout=5).status_code == 404


def test_job_errors_are_the_ones_jenkins_gives(jenkins: FakeJenkins) -> None:
    jenkins.add_job("disabled", {"ID": ""}, disabled=True)
    jenkins.add_job("plain", None)

    missing = requests.post(f"{jenkins.url}/job/nope/buildWithParameters", auth=TOKEN, timeout=5)
    disabled = requests.post(
        f"{jenkins.url}/job/disabled/buildWithParameters", auth=TOKEN, timeout=5
    )
    plain = requests.post(f"{jenkins.url}/job/plain/buildWithParameters", auth=TOKEN, timeout=5)

    assert missing.status_code == 404
    assert disabled.status_code == 409
    assert disabled.text.startswith("java.io.IOException: disabled is not buildable")
    assert plain.status_code == 400
    assert plain.text.startswith("java.io.IOException: plain is not parameterized")


def test_bare_number_delay_is_milliseconds(jenkins: FakeJenkins) -> None:
    requests.post(build_url(jenkins), params={"delay": "10"}, auth=TOKEN, timeout=5)
    requests.post(build_url(jenkins), params={"delay": "10sec", "ID": "2"}, auth=TOKEN, timeout=5)

    assert [item.quiet_period for item in jenkins.queue] == [0.01, 10.0]

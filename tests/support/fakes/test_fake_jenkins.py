"""The fake Jenkins behaves as API-NOTES describes Jenkins, so tests built on it mean something."""

import time
from collections.abc import Callable, Iterator

import pytest
import requests

from tests.support.fakes.jenkins import FakeJenkins
from tests.support.fakes.lifecycle import Lifecycle

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


def get(jenkins: FakeJenkins, path: str, **params: str) -> requests.Response:
    """GET a path of the fake as the API-token user."""
    return requests.get(f"{jenkins.url}/{path}", params=params, auth=TOKEN, timeout=5)


def queue_build(jenkins: FakeJenkins, dispatch_id: str) -> str:
    """Queue ml/retrain with ID=dispatch_id and no quiet period; the queue item's URL."""
    answer = requests.post(
        build_url(jenkins),
        data={"ID": dispatch_id},
        params={"delay": "0sec"},
        auth=TOKEN,
        timeout=5,
    )
    return str(answer.headers["Location"])


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``condition`` until it holds (a loaded machine may be slow)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@pytest.mark.parametrize("result", ["SUCCESS", "UNSTABLE", "FAILURE", "ABORTED", "NOT_BUILT"])
def test_a_lifecycle_takes_an_item_through_a_build_to_its_result(
    jenkins: FakeJenkins, result: str
) -> None:
    jenkins.lifecycle = Lifecycle(start_after=0.2, run_for=0.3, result=result)
    location = queue_build(jenkins, "drb-1")

    waiting = requests.get(f"{location}api/json", auth=TOKEN, timeout=5).json()
    wait_until(
        lambda: (
            requests.get(f"{location}api/json", auth=TOKEN, timeout=5).json().get("executable")
            is not None
        )
    )
    left = requests.get(f"{location}api/json", auth=TOKEN, timeout=5).json()
    build_api = f"{left['executable']['url']}api/json"
    running = requests.get(build_api, auth=TOKEN, timeout=5).json()
    wait_until(lambda: requests.get(build_api, auth=TOKEN, timeout=5).json()["result"] is not None)
    done = requests.get(build_api, auth=TOKEN, timeout=5).json()

    assert waiting["_class"] == "hudson.model.Queue$WaitingItem"
    assert left["_class"] == "hudson.model.Queue$LeftItem"
    assert (running["building"], running["result"]) == (True, None)
    assert (done["building"], done["result"], done["duration"]) == (False, result, 300)


def test_each_item_follows_the_plan_of_its_dispatch_id(jenkins: FakeJenkins) -> None:
    jenkins.lifecycle = Lifecycle(start_after=0, run_for=0, result="SUCCESS")
    jenkins.plan("drb-bad", Lifecycle(start_after=0, run_for=0, result="FAILURE"))
    queue_build(jenkins, "drb-good")
    queue_build(jenkins, "drb-bad")

    builds = jenkins.builds_of("ml/retrain")

    assert {b.parameters["ID"]: b.result for b in builds} == {
        "drb-good": "SUCCESS",
        "drb-bad": "FAILURE",
    }


def test_a_cancelled_item_leaves_without_an_executable(jenkins: FakeJenkins) -> None:
    location = queue_build(jenkins, "drb-1")
    jenkins.cancel(jenkins.queue[0].id)

    item = requests.get(f"{location}api/json", auth=TOKEN, timeout=5).json()

    assert item["_class"] == "hudson.model.Queue$LeftItem"
    assert (item["cancelled"], item["executable"]) == (True, None)


def test_an_item_that_left_the_queue_vanishes_after_the_ttl(jenkins: FakeJenkins) -> None:
    jenkins.left_item_ttl = 0.2
    location = queue_build(jenkins, "drb-1")
    jenkins.start_builds()

    first = requests.get(f"{location}api/json", auth=TOKEN, timeout=5)
    wait_until(
        lambda: requests.get(f"{location}api/json", auth=TOKEN, timeout=5).status_code == 404
    )

    assert first.status_code == 200
    assert jenkins.builds_of("ml/retrain")[0].parameters["ID"] == "drb-1"


def test_the_queue_lists_waiting_items_with_their_parameters(jenkins: FakeJenkins) -> None:
    queue_build(jenkins, "drb-1")
    queue_build(jenkins, "drb-2")
    jenkins.start_builds()
    queue_build(jenkins, "drb-3")

    items = get(jenkins, "queue/api/json").json()["items"]

    [item] = items
    [action] = [a for a in item["actions"] if a["_class"] == "hudson.model.ParametersAction"]
    assert {p["name"]: p["value"] for p in action["parameters"]}["ID"] == "drb-3"


def test_the_job_lists_its_builds_newest_first_with_parameters_when_asked(
    jenkins: FakeJenkins,
) -> None:
    queue_build(jenkins, "drb-1")
    queue_build(jenkins, "drb-2")
    jenkins.start_builds()
    jenkins.finish_build(jenkins.jobs["ml/retrain"], 1, "SUCCESS")

    plain = get(jenkins, "job/ml/job/retrain/api/json").json()["builds"]
    tree = "builds[number,url,result,actions[parameters[name,value]]]{0,50}"
    detailed = get(jenkins, "job/ml/job/retrain/api/json", tree=tree).json()["builds"]

    assert [set(b) for b in plain] == [{"_class", "number", "url"}] * 2
    assert [(b["number"], b["result"]) for b in detailed] == [(2, None), (1, "SUCCESS")]
    parameters = [
        {
            p["name"]: p["value"]
            for a in b["actions"]
            if a.get("parameters")
            for p in a["parameters"]
        }
        for b in detailed
    ]
    assert [p["ID"] for p in parameters] == ["drb-2", "drb-1"]

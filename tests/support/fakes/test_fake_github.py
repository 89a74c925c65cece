"""The fake GitHub behaves as API-NOTES describes GitHub, so tests built on it mean something."""

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.support.fakes.github import FakeGitHub
from tests.support.fakes.lifecycle import Lifecycle

AUTH = {"Authorization": "Bearer tok"}
DISPATCHES = "/repos/acme/models/actions/workflows/retrain.yml/dispatches"


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    """acme/models with retrain.yml declaring inputs model (required) and dispatch_id."""
    with FakeGitHub(token="tok") as fake:
        fake.add_workflow(
            "acme",
            "models",
            "retrain.yml",
            inputs=["model", "dispatch_id"],
            required=["model"],
            run_name="retrain {model} ({dispatch_id})",
        )
        yield fake


def dispatch(github: FakeGitHub, body: dict[str, Any], **kwargs: Any) -> requests.Response:
    """POST a workflow_dispatch for retrain.yml."""
    headers = kwargs.pop("headers", AUTH)
    return requests.post(github.url + DISPATCHES, json=body, headers=headers, timeout=5, **kwargs)


def test_every_response_carries_the_rate_limit_headers(github: FakeGitHub) -> None:
    first = dispatch(github, {"ref": "main", "inputs": {"model": "a"}})
    error = dispatch(github, {"ref": "nope", "inputs": {"model": "a"}})

    for answer in (first, error):
        assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-used"} <= {
            name.lower() for name in answer.headers
        }
        assert int(answer.headers["x-ratelimit-reset"]) > time.time()
    assert (
        int(error.headers["x-ratelimit-remaining"])
        == int(first.headers["x-ratelimit-remaining"]) - 1
    )


@pytest.mark.parametrize(
    ("headers", "message"),
    [({}, "Requires authentication"), ({"Authorization": "Bearer nope"}, "Bad credentials")],
)
def test_missing_or_bad_token_is_401(
    github: FakeGitHub, headers: dict[str, str], message: str
) -> None:
    answer = dispatch(github, {"ref": "main"}, headers=headers)

    assert answer.status_code == 401
    assert answer.json()["message"] == message
    assert "documentation_url" in answer.json()


def test_unknown_repository_or_workflow_is_404(github: FakeGitHub) -> None:
    repo = requests.post(
        f"{github.url}/repos/acme/nope/actions/workflows/retrain.yml/dispatches",
        json={"ref": "main"},
        headers=AUTH,
        timeout=5,
    )
    workflow = requests.post(
        f"{github.url}/repos/acme/models/actions/workflows/nope.yml/dispatches",
        json={"ref": "main"},
        headers=AUTH,
        timeout=5,
    )

    assert (repo.status_code, workflow.status_code) == (404, 404)
    assert repo.json()["message"] == "Not Found"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"ref": "nope", "inputs": {"model": "a"}}, "No ref found for: nope"),
        ({"ref": "main", "inputs": {"model": "a", "extra": "b"}}, "Unexpected inputs provided"),
        ({"ref": "main", "inputs": {}}, "Required input 'model' not provided"),
        ({"ref": "main", "inputs": {"model": "x" * 65_600}}, "inputs are too large."),
        ({"inputs": {"model": "a"}}, '"ref" wasn\'t supplied.'),
    ],
)
def test_invalid_dispatches_are_422_with_githubs_message(
    github: FakeGitHub, body: dict[str, Any], message: str
) -> None:
    answer = dispatch(github, body)

    assert answer.status_code == 422
    assert message in answer.json()["message"]
    assert github.runs == []


def test_more_than_25_inputs_are_422() -> None:
    with FakeGitHub(token="tok") as github:
        github.add_workflow("acme", "models", "retrain.yml")

        answer = dispatch(github, {"ref": "main", "inputs": {f"i{n}": "v" for n in range(26)}})

    assert answer.status_code == 422
    assert "25" in answer.json()["message"]


def test_workflow_without_a_dispatch_trigger_is_422(github: FakeGitHub) -> None:
    github.add_workflow("acme", "models", "ci.yml", dispatchable=False)

    answer = requests.post(
        f"{github.url}/repos/acme/models/actions/workflows/ci.yml/dispatches",
        json={"ref": "main"},
        headers=AUTH,
        timeout=5,
    )

    assert answer.status_code == 422
    assert "workflow_dispatch" in answer.json()["message"]


def test_dispatch_is_204_or_200_with_run_details(github: FakeGitHub) -> None:
    plain = dispatch(github, {"ref": "main", "inputs": {"model": "a"}})
    detailed = dispatch(
        github, {"ref": "main", "inputs": {"model": "b"}, "return_run_details": True}
    )

    assert (plain.status_code, plain.content) == (204, b"")
    assert detailed.status_code == 200
    assert set(detailed.json()) == {"workflow_run_id", "run_url", "html_url"}
    assert [run.display_title for run in github.runs] == ["retrain a ()", "retrain b ()"]


def test_older_enterprise_server_rejects_return_run_details() -> None:
    with FakeGitHub(token="tok", supports_run_details=False) as ghes:
        ghes.add_workflow("acme", "models", "retrain.yml")

        answer = dispatch(ghes, {"ref": "main", "return_run_details": True})

    assert answer.status_code == 422
    assert '"return_run_details" is not a permitted key.' in answer.json()["message"]


def test_run_endpoint_reports_status_and_conclusion(github: FakeGitHub) -> None:
    run_id = dispatch(
        github, {"ref": "main", "inputs": {"model": "a"}, "return_run_details": True}
    ).json()["workflow_run_id"]
    url = f"{github.url}/repos/acme/models/actions/runs/{run_id}"

    queued = requests.get(url, headers=AUTH, timeout=5).json()
    github.finish_run(run_id, "failure")
    completed = requests.get(url, headers=AUTH, timeout=5).json()

    assert (queued["status"], queued["conclusion"]) == ("queued", None)
    assert (completed["status"], completed["conclusion"]) == ("completed", "failure")


def test_runs_list_filters_by_event_and_creation_time(github: FakeGitHub) -> None:
    dispatch(github, {"ref": "main", "inputs": {"model": "a", "dispatch_id": "drb-1"}})
    url = f"{github.url}/repos/acme/models/actions/workflows/retrain.yml/runs"
    past = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    future = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60))

    def titles(**params: str) -> list[str]:
        answer = requests.get(url, params=params, headers=AUTH, timeout=5).json()
        return [run["display_title"] for run in answer["workflow_runs"]]

    assert titles(event="workflow_dispatch", created=f">={past}") == ["retrain a (drb-1)"]
    assert titles(event="workflow_dispatch", created=f">={future}") == []
    assert titles(event="push") == []


def test_repository_dispatch_checks_event_type_and_payload_keys(github: FakeGitHub) -> None:
    url = f"{github.url}/repos/acme/models/dispatches"

    def send(body: dict[str, Any]) -> int:
        return requests.post(url, json=body, headers=AUTH, timeout=5).status_code

    assert send({"event_type": "retrain", "client_payload": {"a": 1}}) == 204
    assert send({"event_type": ""}) == 422
    assert send({"event_type": "e" * 101}) == 422
    assert send({"event_type": "x", "client_payload": {str(n): n for n in range(11)}}) == 422
    assert github.repository_dispatches == [("retrain", {"a": 1})]


def test_rate_limit_faults_look_like_githubs(github: FakeGitHub) -> None:
    github.primary_rate_limit(reset_in=30)
    github.secondary_rate_limit(status=429, retry_after=5)

    primary = dispatch(github, {"ref": "main", "inputs": {"model": "a"}})
    secondary = dispatch(github, {"ref": "main", "inputs": {"model": "a"}})
    normal = dispatch(github, {"ref": "main", "inputs": {"model": "a"}})

    assert primary.status_code == 403
    assert primary.headers["x-ratelimit-remaining"] == "0"
    assert 25 <= int(primary.headers["x-ratelimit-reset"]) - time.time() <= 31
    assert "rate limit" in primary.json()["message"]
    assert secondary.status_code == 429
    assert secondary.headers["retry-after"] == "5"
    assert "secondary rate limit" in secondary.json()["message"]
    assert normal.status_code == 204


def run_url(github: FakeGitHub, run_id: int) -> str:
    """The API URL of a run."""
    return f"{github.url}/repos/acme/models/actions/runs/{run_id}"


def dispatched_run(github: FakeGitHub, dispatch_id: str) -> int:
    """Dispatch retrain.yml with ``dispatch_id``; the run id."""
    body = {
        "ref": "main",
        "inputs": {"model": "a", "dispatch_id": dispatch_id},
        "return_run_details": True,
    }
    return int(dispatch(github, body).json()["workflow_run_id"])


def wait_for_status(github: FakeGitHub, run_id: int, status: str) -> dict[str, Any]:
    """Poll the run until it has ``status``; its last answer."""
    deadline = time.monotonic() + 10
    while True:
        run = requests.get(run_url(github, run_id), headers=AUTH, timeout=5).json()
        if run["status"] == status:
            return dict(run)
        assert time.monotonic() < deadline, f"run still {run['status']}"
        time.sleep(0.02)


@pytest.mark.parametrize("conclusion", ["success", "failure", "cancelled", "timed_out"])
def test_a_lifecycle_takes_a_run_from_queued_through_in_progress_to_its_conclusion(
    github: FakeGitHub, conclusion: str
) -> None:
    github.lifecycle = Lifecycle(start_after=0.2, run_for=0.3, result=conclusion)
    run_id = dispatched_run(github, "drb-1")

    queued = requests.get(run_url(github, run_id), headers=AUTH, timeout=5).json()
    running = wait_for_status(github, run_id, "in_progress")
    done = wait_for_status(github, run_id, "completed")

    assert (queued["status"], queued["conclusion"]) == ("queued", None)
    assert running["conclusion"] is None
    assert done["conclusion"] == conclusion
    assert done["run_attempt"] == 1
    assert done["display_title"] == "retrain a (drb-1)"
    assert {"run_started_at", "created_at", "updated_at", "html_url"} <= set(done)


def test_each_run_follows_the_plan_of_its_dispatch_id(github: FakeGitHub) -> None:
    github.plan("drb-slow", Lifecycle())  # never moves on by itself
    github.lifecycle = Lifecycle(start_after=0, run_for=0, result="success")
    fast, slow = dispatched_run(github, "drb-fast"), dispatched_run(github, "drb-slow")

    assert github.run(fast).conclusion == "success"
    assert github.run(slow).status == "queued"


def test_rerun_starts_the_next_attempt(github: FakeGitHub) -> None:
    run_id = dispatched_run(github, "drb-1")
    github.finish_run(run_id, "failure")
    github.rerun(run_id)

    again = requests.get(run_url(github, run_id), headers=AUTH, timeout=5).json()

    assert (again["status"], again["conclusion"], again["run_attempt"]) == ("queued", None, 2)


def test_an_unchanged_run_answers_304_to_its_etag_and_is_not_counted(github: FakeGitHub) -> None:
    run_id = dispatched_run(github, "drb-1")
    first = requests.get(run_url(github, run_id), headers=AUTH, timeout=5)
    counted = github.counted
    conditional = {**AUTH, "If-None-Match": first.headers["ETag"]}

    same = requests.get(run_url(github, run_id), headers=conditional, timeout=5)
    github.finish_run(run_id, "success")
    changed = requests.get(run_url(github, run_id), headers=conditional, timeout=5)

    assert (same.status_code, same.content) == (304, b"")
    assert same.headers["ETag"] == first.headers["ETag"]
    assert same.headers["x-ratelimit-remaining"] == first.headers["x-ratelimit-remaining"]
    assert changed.status_code == 200
    assert changed.json()["conclusion"] == "success"
    assert (github.counted, github.not_modified) == (counted + 1, 1)


def test_requests_beyond_the_rate_limit_get_403_until_the_reset(github: FakeGitHub) -> None:
    github.rate_limit = 2
    run_id = dispatched_run(github, "drb-1")

    last = requests.get(run_url(github, run_id), headers=AUTH, timeout=5)
    over = requests.get(run_url(github, run_id), headers=AUTH, timeout=5)

    assert last.status_code == 200
    assert last.headers["x-ratelimit-remaining"] == "0"
    assert over.status_code == 403
    assert over.headers["x-ratelimit-remaining"] == "0"
    assert "rate limit" in over.json()["message"]


def test_an_unknown_run_is_404(github: FakeGitHub) -> None:
    assert requests.get(run_url(github, 1), headers=AUTH, timeout=5).status_code == 404


def test_the_run_list_filters_by_status_and_pages(github: FakeGitHub) -> None:
    ids = [dispatched_run(github, f"drb-{n}") for n in range(3)]
    github.finish_run(ids[0], "success")
    url = f"{github.url}/repos/acme/models/actions/workflows/retrain.yml/runs"

    def listed(**params: str) -> list[int]:
        answer = requests.get(url, params=params, headers=AUTH, timeout=5).json()
        return [run["id"] for run in answer["workflow_runs"]]

    assert listed(status="completed") == [ids[0]]
    assert listed(status="queued") == [ids[2], ids[1]]
    assert listed(per_page="2") == [ids[2], ids[1]]
    assert listed(per_page="2", page="2") == [ids[0]]

"""Following a GitHub Actions workflow run to its conclusion, and finding it by dispatch id.

A run is polled with ``GET /repos/{owner}/{repo}/actions/runs/{id}`` and ``If-None-Match``: an
unchanged run answers 304, which GitHub does not count against the rate limit. A run dispatched
without run details (older GitHub Enterprise Server) or by an attempt whose answer was lost is
found in ``GET .../actions/workflows/{workflow}/runs?event=workflow_dispatch&created=>=T`` by its
``display_title``, which carries the dispatch id when the workflow's ``run-name`` uses it.
"""

import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote

import requests
import yaml

from bridge.metrics import RetrainingResult
from bridge.targets.base import (
    DispatchError,
    FailureReason,
    Locator,
    Request,
    RunState,
    RunStatus,
)
from bridge.targets.github_limits import budget, check_rate_limit
from bridge.targets.http import HttpSettings, check_response


class GitHubTarget(Protocol):
    """What following needs of :class:`bridge.targets.github.GitHubTarget`."""

    name: str
    http: HttpSettings
    workflow: str
    dispatch_id_input: str

    def headers(self) -> dict[str, str]:
        """The API headers with the token."""
        ...

    def repo_url(self) -> str:
        """The repository's API URL."""
        ...


# A conclusion -> the result it counts as. Anything else completed counts as failed.
CONCLUSIONS = {
    "success": RetrainingResult.SUCCEEDED,
    "neutral": RetrainingResult.SUCCEEDED,
    "failure": RetrainingResult.FAILED,
    "startup_failure": RetrainingResult.FAILED,
    "action_required": RetrainingResult.FAILED,
    "cancelled": RetrainingResult.CANCELLED,
    "skipped": RetrainingResult.CANCELLED,
    "stale": RetrainingResult.CANCELLED,
    "timed_out": RetrainingResult.TIMED_OUT,
}
# Runs created this long before the first attempt still count: the clocks of the bridge and of
# GitHub may differ, and the run-name's dispatch id makes a wider window harmless.
CLOCK_SLACK = 300.0
_PAGE = 100


def follow(target: GitHubTarget, locator: Locator, etag: str | None) -> RunStatus:
    """One look at the run; while its id is unknown, one look for it by dispatch id."""
    if not isinstance(locator.get("run_id"), int):
        found = _find(target, str(locator.get("dispatch_id")), float(locator.get("since", 0)))
        if found is None:
            return RunStatus(RunState.QUEUED, locator)
        locator = found
    url = f"{target.repo_url()}/actions/runs/{locator['run_id']}"
    headers = target.headers()
    if etag:
        headers["If-None-Match"] = etag
    what = f"GitHub {target.name} run {locator['run_id']}"
    with target.http.session() as session:
        response = target.http.request(session, "GET", url, what, headers=headers)
    if response.status_code == 304:
        return RunStatus(
            RunState.QUEUED, locator, etag=etag, not_modified=True, budget=budget(response)
        )
    if response.status_code == 404:
        return RunStatus(
            RunState.COMPLETED,
            locator,
            RetrainingResult.CANCELLED,
            detail="run not found (deleted, or the token lost access)",
        )
    check_rate_limit(response, what)
    check_response(response, what)
    return _status(locator, _json(response, what), response)


def find_run(target: GitHubTarget, request: Request, since: float) -> Locator | None:
    """The run started for ``request`` (first sent at ``since``), by its display_title."""
    inputs = (request.get("json") or {}).get("inputs") or {}
    dispatch_id = inputs.get(target.dispatch_id_input) if isinstance(inputs, Mapping) else None
    if not isinstance(dispatch_id, str) or not dispatch_id:
        return None
    return _find(target, dispatch_id, since)


def _find(target: GitHubTarget, dispatch_id: str, since: float) -> Locator | None:
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since - CLOCK_SLACK))
    url = f"{target.repo_url()}/actions/workflows/{quote(target.workflow, safe='')}/runs"
    params = {"event": "workflow_dispatch", "created": f">={created}", "per_page": str(_PAGE)}
    what = f"GitHub {target.name} runs of {target.workflow}"
    with target.http.session() as session:
        for page in range(1, 11):  # at most 1,000 runs since the first attempt
            response = target.http.request(
                session,
                "GET",
                url,
                what,
                headers=target.headers(),
                params={**params, "page": str(page)},
            )
            check_rate_limit(response, what)
            check_response(response, what)
            runs = _json(response, what).get("workflow_runs") or []
            for run in runs:
                if isinstance(run, Mapping) and dispatch_id in str(run.get("display_title", "")):
                    return {"run_id": int(run["id"])}
            if len(runs) < _PAGE:
                return None
    return None


def _status(locator: Locator, run: Mapping[str, Any], response: requests.Response) -> RunStatus:
    status = str(run.get("status") or "")
    conclusion = run.get("conclusion")
    started = _time(run.get("run_started_at"))
    finished = _time(run.get("updated_at")) if status == "completed" else None
    if status == "completed":
        state = RunState.COMPLETED
        result = CONCLUSIONS.get(str(conclusion), RetrainingResult.FAILED)
    else:
        state = RunState.RUNNING if status == "in_progress" else RunState.QUEUED
        result = None
    return RunStatus(
        state,
        locator,
        result,
        detail=str(conclusion) if conclusion else status,
        url=run.get("html_url"),
        external_id=str(run.get("id", locator["run_id"])),
        run_attempt=run.get("run_attempt") if isinstance(run.get("run_attempt"), int) else None,
        started_at=started,
        finished_at=finished,
        duration=None if started is None or finished is None else max(0.0, finished - started),
        etag=response.headers.get("ETag"),
        budget=budget(response),
    )


def _json(response: requests.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise DispatchError(
            f"{what}: unexpected answer (not a JSON object): {response.text[:200]!r}",
            retryable=True,
            reason=FailureReason.SERVER_ERROR,
            status=response.status_code,
        )
    return body


def _time(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def run_name_problem(workflow_text: str, dispatch_id_input: str) -> str | None:
    """Why a workflow file's ``run-name`` does not let the bridge find its runs, or None."""
    try:
        workflow = yaml.safe_load(workflow_text)
    except yaml.YAMLError as err:
        return f"is not valid YAML: {err}"
    run_name = workflow.get("run-name") if isinstance(workflow, Mapping) else None
    if not isinstance(run_name, str):
        return "has no run-name"
    if f"inputs.{dispatch_id_input}" not in run_name.replace(" ", ""):
        return f"has a run-name without ${{{{ inputs.{dispatch_id_input} }}}}: {run_name!r}"
    return None

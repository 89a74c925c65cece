"""Following a Jenkins queue item to its build and the build to its result; finding them again.

A queue item (``<queue url>api/json``) waits, then leaves the queue with an ``executable`` (the
build) or ``cancelled: true``; Jenkins forgets it about five minutes after it left (404), so the
follower must have moved on to the build by then. A build (``<build url>api/json``) is done when
``result`` is set. Lost track of both (the item vanished before we saw its build, or an attempt's
answer was lost), the build or item is found by its dispatch id parameter: first in the queue
(``/queue/api/json``), then in the job's builds.
"""

from collections.abc import Mapping
from typing import Any, Protocol

import requests

from bridge.metrics import RetrainingResult
from bridge.targets.base import (
    DispatchError,
    FailureReason,
    Locator,
    Request,
    RunState,
    RunStatus,
)
from bridge.targets.http import HttpSettings, check_response


class JenkinsTarget(Protocol):
    """What following needs of :class:`bridge.targets.jenkins.JenkinsTarget`."""

    name: str
    url: str
    http: HttpSettings
    dispatch_id_parameter: str

    def authenticate(self, session: requests.Session) -> None:
        """Put the target's credentials on ``session``."""
        ...


RESULTS = {
    "SUCCESS": RetrainingResult.SUCCEEDED,
    # Tests failed in an otherwise complete build: not a model to trust.
    "UNSTABLE": RetrainingResult.FAILED,
    "FAILURE": RetrainingResult.FAILED,
    "ABORTED": RetrainingResult.CANCELLED,
    "NOT_BUILT": RetrainingResult.CANCELLED,
}
_BUILDS_TREE = "builds[number,url,result,actions[parameters[name,value]]]{0,50}"


def follow(target: JenkinsTarget, locator: Locator) -> RunStatus:
    """One look at the build, or at the queue item while it has no build yet."""
    with target.http.session() as session:
        target.authenticate(session)
        if isinstance(locator.get("build_url"), str):
            return _build(target, session, locator)
        return _queue_item(target, session, locator)


def find_run(target: JenkinsTarget, request: Request) -> Locator | None:
    """The queue item or build whose dispatch id parameter matches ``request``'s."""
    form = request.get("form") or {}
    dispatch_id = form.get(target.dispatch_id_parameter) if isinstance(form, Mapping) else None
    url = request.get("url")
    if not isinstance(dispatch_id, str) or not isinstance(url, str):
        return None
    job_url = url.rsplit("/", 1)[0] + "/"
    with target.http.session() as session:
        target.authenticate(session)
        # The queue, then the builds, then the queue again: an item that leaves the queue
        # between the first two looks is in the builds or, at worst, seen by the third.
        return (
            _in_queue(target, session, dispatch_id)
            or _in_builds(target, session, job_url, dispatch_id)
            or _in_queue(target, session, dispatch_id)
        )


def _queue_item(target: JenkinsTarget, session: requests.Session, locator: Locator) -> RunStatus:
    queue_url = str(locator["queue_url"])
    what = f"Jenkins {target.name} queue item {queue_url}"
    response = target.http.request(session, "GET", f"{queue_url}api/json", what)
    if response.status_code == 404:
        return _vanished(target, session, locator)
    check_response(response, what)
    item = _json(response, what)
    if item.get("cancelled") is True:
        return RunStatus(
            RunState.COMPLETED, locator, RetrainingResult.CANCELLED, detail="CANCELLED"
        )
    executable = item.get("executable")
    if isinstance(executable, Mapping) and isinstance(executable.get("url"), str):
        build = {**locator, "build_url": executable["url"]}
        return RunStatus(
            RunState.RUNNING,
            build,
            url=executable["url"],
            external_id=str(executable.get("number", "")),
        )
    return RunStatus(RunState.QUEUED, locator, detail=str(item.get("why") or "waiting"))


def _vanished(target: JenkinsTarget, session: requests.Session, locator: Locator) -> RunStatus:
    """The queue item is gone: its build, found by dispatch id, or cancelled without one."""
    dispatch_id, job_url = locator.get("dispatch_id"), locator.get("job_url")
    if isinstance(dispatch_id, str) and isinstance(job_url, str):
        found = _in_builds(target, session, job_url, dispatch_id)
        if found is not None:
            return RunStatus(RunState.RUNNING, {**locator, **found}, url=found["build_url"])
    return RunStatus(
        RunState.COMPLETED,
        locator,
        RetrainingResult.CANCELLED,
        detail="queue item vanished and no build carries the dispatch id",
    )


def _build(target: JenkinsTarget, session: requests.Session, locator: Locator) -> RunStatus:
    build_url = str(locator["build_url"])
    what = f"Jenkins {target.name} build {build_url}"
    response = target.http.request(session, "GET", f"{build_url}api/json", what)
    check_response(response, what)
    build = _json(response, what)
    started = build["timestamp"] / 1000 if isinstance(build.get("timestamp"), int) else None
    result = build.get("result")
    common: dict[str, Any] = {
        "url": build_url,
        "external_id": str(build.get("number", "")),
        "started_at": started,
    }
    if result is None or build.get("building") is True:
        return RunStatus(RunState.RUNNING, locator, detail="building", **common)
    duration = build["duration"] / 1000 if isinstance(build.get("duration"), int) else None
    finished = None if started is None or duration is None else started + duration
    return RunStatus(
        RunState.COMPLETED,
        locator,
        RESULTS.get(str(result), RetrainingResult.FAILED),
        detail=str(result),
        duration=duration,
        finished_at=finished,
        **common,
    )


def _in_queue(target: JenkinsTarget, session: requests.Session, dispatch_id: str) -> Locator | None:
    what = f"Jenkins {target.name} queue"
    response = target.http.request(session, "GET", f"{target.url}/queue/api/json", what)
    check_response(response, what)
    for item in _json(response, what).get("items") or []:
        if (
            isinstance(item, Mapping)
            and _parameter(item, target.dispatch_id_parameter) == dispatch_id
        ):
            return {"queue_url": f"{target.url}/queue/item/{item.get('id')}/"}
    return None


def _in_builds(
    target: JenkinsTarget, session: requests.Session, job_url: str, dispatch_id: str
) -> Locator | None:
    what = f"Jenkins {target.name} builds of {job_url}"
    response = target.http.request(
        session, "GET", f"{job_url}api/json", what, params={"tree": _BUILDS_TREE}
    )
    check_response(response, what)
    for build in _json(response, what).get("builds") or []:
        if (
            isinstance(build, Mapping)
            and _parameter(build, target.dispatch_id_parameter) == dispatch_id
        ):
            return {"build_url": str(build.get("url"))}
    return None


def _parameter(item: Mapping[str, Any], name: str) -> str | None:
    """A parameter's value from an item's or build's ``actions`` (the ParametersAction)."""
    for action in item.get("actions") or []:
        if not isinstance(action, Mapping):
            continue
        for parameter in action.get("parameters") or []:
            if isinstance(parameter, Mapping) and parameter.get("name") == name:
                return str(parameter.get("value"))
    return None


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

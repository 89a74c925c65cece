"""``POST /api/dispatches/<id>/result``: a retraining job reports how it ended.

The example Jenkinsfile and GitHub workflow call it as their last step, so the retrained model's
version is linked back to the alert that caused it. Body (JSON)::

    {"result": "succeeded", "model_version": "fraud-detector:2026-11-27.3", "url": "https://..."}

``result`` is one of succeeded, failed, cancelled, timed_out; ``model_version`` and ``url`` are
optional strings. Idempotent: the same report again answers the same; a run the bridge already
saw finish keeps its result and gains the model version and URL.
"""

import time
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from bridge.config import DEFAULT_VERIFY_WITHIN
from bridge.metrics import RetrainingResult
from bridge.store.run_records import ReportedResult
from bridge.web import auth
from bridge.web.audit import iso_times
from bridge.web.errors import error_response
from bridge.web.state import current_bridge

blueprint = Blueprint("results", __name__, url_prefix="/api")

_MAX_TEXT = 1000
_KEYS = {"result", "model_version", "url"}


@blueprint.post("/dispatches/<dispatch_id>/result")
@auth.required
def report(dispatch_id: str) -> ResponseReturnValue:
    """Record the result a retraining job reports for its dispatch."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error_response(400, "expected a JSON object with 'result'")
    problem = _problem(body)
    if problem is not None:
        return error_response(400, problem)
    state = current_bridge()
    dispatch = state.store.get_dispatch(dispatch_id)
    if dispatch is None:
        return error_response(404, f"no dispatch {dispatch_id!r}")
    route = state.config.route(dispatch.summary.route)
    state.store.report_result(
        ReportedResult(
            dispatch_id=dispatch_id,
            result=body["result"],
            model_version=body.get("model_version"),
            url=body.get("url"),
            now=time.time(),
            verify_within=DEFAULT_VERIFY_WITHIN if route is None else route.verify_within,
        )
    )
    if state.follower is not None:
        state.follower.wake()  # judge the episode without waiting for the next tick
    return jsonify(iso_times(state.store.get_run(dispatch_id)))


def _problem(body: dict[str, Any]) -> str | None:
    unknown = sorted(set(body) - _KEYS)
    if unknown:
        return f"unknown key(s) {', '.join(unknown)} (accepted: {', '.join(sorted(_KEYS))})"
    results = ", ".join(r.value for r in RetrainingResult)
    if body.get("result") not in set(RetrainingResult):
        return f"'result' must be one of {results}, got {body.get('result')!r}"
    for key in ("model_version", "url"):
        value = body.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > _MAX_TEXT):
            return f"'{key}' must be a string of at most {_MAX_TEXT} characters"
    return None

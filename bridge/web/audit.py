"""``/api/dispatches``: the audit trail (alert, decision, attempts, responses) and retries."""

import time
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from bridge.dead_letters import RetryRefusedError, retry_dispatch
from bridge.store.records import (
    AttemptRecord,
    DecisionView,
    DispatchState,
    DispatchSummary,
    DispatchTrail,
)
from bridge.web import auth
from bridge.web.errors import error_response
from bridge.web.state import current_bridge

blueprint = Blueprint("audit", __name__, url_prefix="/api")

_MAX_LIMIT = 500


def iso_times(value: Any) -> Any:
    """Unix times under ``*_at`` keys as RFC 3339 strings, recursively (for humans and jq)."""
    if isinstance(value, dict):
        return {
            key: _iso(item)
            if key.endswith("_at") and isinstance(item, int | float)
            else iso_times(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [iso_times(item) for item in value]
    return value


def summary_json(summary: DispatchSummary) -> dict[str, Any]:
    """One line of ``GET /api/dispatches`` (and of ``drift-bridge dispatches list``)."""
    value = {
        "id": summary.id,
        "kind": summary.kind,
        "state": summary.state,
        "route": summary.route,
        "target": summary.target,
        "target_type": summary.target_type,
        "created_at": summary.created_at,
        "completed_at": summary.completed_at,
        "attempt_count": summary.attempt_count,
        "next_attempt_at": summary.next_attempt_at,
        "last_error": summary.last_error,
        "last_reason": summary.last_reason,
        "result": summary.result,
        "fingerprint": summary.fingerprint,
        "starts_at": summary.starts_at,
        "labels": dict(summary.labels),
        "episode_state": summary.episode_state,
    }
    result: dict[str, Any] = iso_times(value)
    return result


def trail_json(trail: DispatchTrail) -> dict[str, Any]:
    """``GET /api/dispatches/<id>`` (and ``drift-bridge dispatches show``)."""
    episode = trail.episode
    value = {
        **summary_json(trail.summary),
        "deadline_at": trail.deadline_at,
        "request": trail.request,
        "alert": dict(trail.alert),
        "episode": {
            "fingerprint": episode.fingerprint,
            "starts_at": episode.starts_at,
            "state": episode.state,
            "outcome": episode.outcome,
            "opened_at": episode.opened_at,
            "resolved_at": episode.resolved_at,
            "ends_at": episode.ends_at,
        },
        "decisions": [_decision_json(d) for d in trail.decisions],
        "attempts": [_attempt_json(a) for a in trail.attempts],
    }
    result: dict[str, Any] = iso_times(value)
    return result


def _decision_json(decision: DecisionView) -> dict[str, Any]:
    return {
        "notification_id": decision.notification_id,
        "received_at": decision.received_at,
        "receiver": decision.receiver,
        "remote_addr": decision.remote_addr,
        "user_agent": decision.user_agent,
        "alert_status": decision.alert_status,
        "route": decision.route,
        "decision": decision.decision,
        "reason": decision.reason,
        "dispatch_id": decision.dispatch_id,
        "decided_at": decision.decided_at,
    }


def _attempt_json(attempt: AttemptRecord) -> dict[str, Any]:
    return {
        "attempt": attempt.attempt,
        "started_at": attempt.started_at,
        "finished_at": attempt.finished_at,
        "outcome": attempt.outcome,
        "reason": attempt.reason,
        "status": attempt.status,
        "message": attempt.message,
        "response": attempt.response,
        "details": attempt.details,
        "next_attempt_at": attempt.next_attempt_at,
    }


def _iso(seconds: float) -> str:
    return (
        datetime.fromtimestamp(seconds, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


@blueprint.get("/dispatches")
@auth.required
def list_dispatches() -> ResponseReturnValue:
    """Dispatches, newest first; filter with ``state`` and ``route``, page with limit/offset."""
    state = request.args.get("state")
    if state is not None and state not in set(DispatchState):
        choices = ", ".join(s.value for s in DispatchState)
        return error_response(400, f"unknown state {state!r} (one of {choices})")
    try:
        limit = int(request.args.get("limit", 100))
        offset = int(request.args.get("offset", 0))
    except ValueError:
        return error_response(400, "limit and offset must be whole numbers")
    if not 1 <= limit <= _MAX_LIMIT or offset < 0:
        return error_response(400, f"limit must be in 1-{_MAX_LIMIT} and offset at least 0")
    rows = current_bridge().store.list_dispatches(state, request.args.get("route"), limit, offset)
    return jsonify(dispatches=[summary_json(row) for row in rows], limit=limit, offset=offset)


@blueprint.get("/dispatches/<dispatch_id>")
@auth.required
def get_dispatch(dispatch_id: str) -> ResponseReturnValue:
    """One dispatch with its alert, the decisions about it, and every attempt."""
    found = current_bridge().store.get_dispatch(dispatch_id)
    if found is None:
        return error_response(404, f"no dispatch {dispatch_id!r}")
    return jsonify(trail_json(found))


@blueprint.post("/dispatches/<dispatch_id>/retry")
@auth.required
def retry(dispatch_id: str) -> ResponseReturnValue:
    """Send a dead-lettered dispatch again, rendering its request with the current config."""
    state = current_bridge()
    try:
        retry_dispatch(state.store, state.config, dispatch_id, time.time())
    except RetryRefusedError as err:
        return error_response(err.status, str(err))
    if state.dispatcher is not None:
        state.dispatcher.wake()
    requeued = state.store.get_dispatch(dispatch_id)
    assert requeued is not None  # it was just requeued, and dispatches are never deleted
    return jsonify(trail_json(requeued)), 202

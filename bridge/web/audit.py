"""``/api/dispatches``: the audit trail (alert, decision, attempts, responses) and retries."""

import time
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from bridge.dead_letters import RetryRefusedError, retry_dispatch
from bridge.store.records import DispatchState
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
    return jsonify(dispatches=iso_times(rows), limit=limit, offset=offset)


@blueprint.get("/dispatches/<dispatch_id>")
@auth.required
def get_dispatch(dispatch_id: str) -> ResponseReturnValue:
    """One dispatch with its alert, the decisions about it, and every attempt."""
    found = current_bridge().store.get_dispatch(dispatch_id)
    if found is None:
        return error_response(404, f"no dispatch {dispatch_id!r}")
    return jsonify(iso_times(found))


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
    return jsonify(iso_times(state.store.get_dispatch(dispatch_id))), 202

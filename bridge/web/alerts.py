"""``POST /alerts``: the Alertmanager webhook receiver.

Persist, then acknowledge: the 2xx goes out only once the notification and every decision it
caused are committed. A request that can never succeed gets a 4xx naming what is wrong (so
Alertmanager stops retrying it); a failure of the bridge itself gets a 503 (so it retries).
"""

import json
import logging

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import RequestEntityTooLarge

from bridge.alertmanager import missing_alerts
from bridge.intake import record_notification
from bridge.metrics import NotificationOutcome
from bridge.payload import PayloadError, parse_notification
from bridge.store import StoreError
from bridge.web import auth
from bridge.web.errors import error_response
from bridge.web.state import current_bridge

log = logging.getLogger(__name__)
blueprint = Blueprint("alerts", __name__)


@blueprint.post("/alerts")
@auth.required
def receive() -> ResponseReturnValue:
    """Record an Alertmanager notification and what it causes."""
    state = current_bridge()
    if request.mimetype != "application/json":
        state.count_rejected(NotificationOutcome.INVALID)
        return error_response(
            415, f"expected Content-Type application/json, got {request.mimetype or 'none'}"
        )
    raw = _body(state.config.server.max_body_bytes)
    if raw is None:
        return too_large(RequestEntityTooLarge())
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        state.count_rejected(NotificationOutcome.INVALID)
        return error_response(400, f"body is not UTF-8 (as Alertmanager sends it): {err}")
    try:
        body = json.loads(text)
    except json.JSONDecodeError as err:
        state.count_rejected(NotificationOutcome.INVALID)
        return error_response(400, f"body is not valid JSON: {err}")
    except ValueError:
        # Python refuses integers of more than 4,300 digits (a defence against slow parsing).
        state.count_rejected(NotificationOutcome.INVALID)
        return error_response(400, "body is not valid JSON: a number with too many digits")
    except RecursionError:
        state.count_rejected(NotificationOutcome.INVALID)
        return error_response(400, "body is not a webhook: JSON nested too deeply")
    try:
        notification = parse_notification(body)
    except PayloadError as err:
        state.count_rejected(NotificationOutcome.INVALID)
        log.warning("rejected a webhook from %s: %s", request.remote_addr, err)
        return error_response(400, f"invalid Alertmanager payload: {err}")
    fetched = missing_alerts(state.config.alertmanager, notification)
    try:
        result = record_notification(
            state.store,
            state.config,
            notification,
            text,
            request.remote_addr,
            request.headers.get("User-Agent"),
            fetched=fetched,
        )
    except StoreError as err:
        log.error(
            "could not record a notification (answering 503 so Alertmanager retries): %s", err
        )
        return error_response(503, "could not record the notification; retry later")
    if result.dispatches_created and state.dispatcher is not None:
        state.dispatcher.wake()
    return jsonify(
        notification_id=result.notification_id,
        alerts=[
            {
                "index": o.index,
                "fingerprint": o.fingerprint,
                "status": o.status,
                "route": o.route,
                "decision": o.decision,
                "reason": o.reason,
                "dispatch_id": o.dispatch_id,
            }
            for o in result.outcomes
        ],
    )


def _body(limit: int) -> bytes | None:
    """The request body, or None when it is larger than ``limit``.

    A chunked body has no Content-Length to check beforehand: it is read up to the limit, and
    one more byte tells whether it was cut (parsing a cut body would answer a misleading 400).
    """
    chunks: list[bytes] = []
    size = 0
    while chunk := request.stream.read(65536):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@blueprint.errorhandler(413)
def too_large(_err: Exception) -> ResponseReturnValue:
    """Count and explain a body over ``max_body_bytes``."""
    state = current_bridge()
    state.count_rejected(NotificationOutcome.TOO_LARGE)
    return error_response(
        413,
        f"request body larger than the limit of {state.config.server.max_body_bytes} bytes "
        "(max_body_bytes)",
    )

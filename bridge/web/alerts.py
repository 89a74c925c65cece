"""``POST /alerts``: the Alertmanager webhook receiver.

Persist, then acknowledge: the 2xx goes out only once the notification and every decision it
caused are committed. A request that can never succeed gets a 4xx naming what is wrong (so
Alertmanager stops retrying it); a failure of the bridge itself gets a 503 (so it retries).
"""

import json
import logging

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import RequestEntityTooLarge

from bridge.alertmanager import missing_alerts
from bridge.intake import IntakeResult, record_notification
from bridge.metrics import NotificationOutcome
from bridge.payload import Notification, PayloadError, parse_notification
from bridge.store import StoreError
from bridge.web import auth
from bridge.web.errors import WEBHOOK_BLUEPRINT, error_response
from bridge.web.state import current_bridge

log = logging.getLogger(__name__)
blueprint = Blueprint(WEBHOOK_BLUEPRINT, __name__)


@blueprint.post("/alerts")
@auth.required
def receive() -> ResponseReturnValue:
    """Record an Alertmanager notification and what it causes."""
    state = current_bridge()
    read = _read_notification()
    if isinstance(read, Response):
        state.count_rejected(NotificationOutcome.INVALID)
        return read
    notification, text = read
    fetched = missing_alerts(state.config.alertmanager, notification)
    try:
        result = record_notification(
            state.store,
            state.config,
            notification,
            payload=text,
            remote_addr=request.remote_addr,
            user_agent=request.headers.get("User-Agent"),
            fetched=fetched,
        )
    except StoreError as err:
        log.error(
            "could not record a notification (answering 503 so Alertmanager retries): %s", err
        )
        return error_response(503, "could not record the notification; retry later")
    if result.dispatches_created and state.dispatcher is not None:
        state.dispatcher.wake()
    return _answer(result)


def _read_notification() -> tuple[Notification, str] | Response:
    """The request's notification and its text, or the 4xx that says why there is none."""
    if request.mimetype != "application/json":
        return error_response(
            415, f"expected Content-Type application/json, got {request.mimetype or 'none'}"
        )
    raw = _body(current_bridge().config.server.max_body_bytes)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return error_response(400, f"body is not UTF-8 (as Alertmanager sends it): {err}")
    try:
        body = json.loads(text)
    except json.JSONDecodeError as err:
        return error_response(400, f"body is not valid JSON: {err}")
    except ValueError:
        # Python refuses integers of more than 4,300 digits (a defence against slow parsing).
        return error_response(400, "body is not valid JSON: a number with too many digits")
    except RecursionError:
        return error_response(400, "body is not a webhook: JSON nested too deeply")
    try:
        return parse_notification(body), text
    except PayloadError as err:
        log.warning("rejected a webhook from %s: %s", request.remote_addr, err)
        return error_response(400, f"invalid Alertmanager payload: {err}")


def _body(limit: int) -> bytes:
    """The request body; RequestEntityTooLarge (413) when it is larger than ``limit``.

    A chunked body has no Content-Length to check beforehand: it is read up to the limit, and
    one more byte tells whether it was cut (parsing a cut body would answer a misleading 400).
    """
    chunks: list[bytes] = []
    size = 0
    while chunk := request.stream.read(65536):
        size += len(chunk)
        if size > limit:
            raise RequestEntityTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def _answer(result: IntakeResult) -> Response:
    """The 200 that acknowledges a recorded notification: what was decided per alert."""
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

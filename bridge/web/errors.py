"""JSON error responses, so that every 4xx and 5xx says what is wrong."""

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from bridge.metrics import NotificationOutcome
from bridge.web.state import current_bridge

# The blueprint of the webhook receiver, whose refused requests are counted.
WEBHOOK_BLUEPRINT = "alerts"


def error_response(status: int, message: str) -> Response:
    """A JSON body ``{"error": message}`` with ``status``."""
    response = jsonify(error=message)
    response.status_code = status
    return response


def register(app: Flask) -> None:
    """Turn every HTTP error (404, 405, 413, ...) into a JSON error response."""

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> Response:
        status = err.code or 500
        if status == 413:
            return _too_large()
        return error_response(status, err.description or err.name)


def _too_large() -> Response:
    """Explain a body over ``max_body_bytes`` (and count it when it was a webhook)."""
    state = current_bridge()
    if request.blueprint == WEBHOOK_BLUEPRINT:
        state.count_rejected(NotificationOutcome.TOO_LARGE)
    return error_response(
        413,
        f"request body larger than the limit of {state.config.server.max_body_bytes} bytes "
        "(max_body_bytes)",
    )

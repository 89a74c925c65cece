"""JSON error responses, so that every 4xx and 5xx says what is wrong."""

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException


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
        message = err.description or err.name
        if status == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            message = f"request body larger than the limit of {limit} bytes (max_body_bytes)"
        return error_response(status, message)

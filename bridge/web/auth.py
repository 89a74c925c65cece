"""Authentication as Alertmanager sends it: bearer token or HTTP basic, in constant time."""

import base64
import binascii
import functools
import hmac
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import request
from flask.typing import ResponseReturnValue

from bridge.config import AuthConfig, AuthType
from bridge.metrics import NotificationOutcome
from bridge.web.errors import error_response
from bridge.web.state import current_bridge

P = ParamSpec("P")
R = TypeVar("R")

_REALM = 'realm="drift-bridge"'


def check(auth: AuthConfig, header: str | None) -> str | None:
    """None when ``header`` (the Authorization header) satisfies ``auth``, else why not."""
    if auth.type == AuthType.NONE:
        return None
    if not header:
        return "missing Authorization header"
    scheme, _, credentials = header.partition(" ")
    credentials = credentials.strip()
    if auth.type == AuthType.BEARER:
        assert auth.token is not None
        if scheme.lower() != "bearer":
            return f"expected Bearer authorization, got {scheme or 'none'}"
        expected = auth.token.get()
        return None if _equal(credentials, expected) else "invalid bearer token"
    assert auth.username is not None
    assert auth.password is not None
    if scheme.lower() != "basic":
        return f"expected Basic authorization, got {scheme or 'none'}"
    try:
        user, sep, password = base64.b64decode(credentials, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return "malformed Basic credentials"
    # Both compared, always, so the time taken does not tell which one was wrong.
    ok_user = _equal(user, auth.username)
    ok_password = _equal(password, auth.password.get())
    return None if sep and ok_user and ok_password else "invalid username or password"


def _equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def challenge(auth: AuthConfig) -> str:
    """The WWW-Authenticate header value for a 401."""
    return f"Bearer {_REALM}" if auth.type == AuthType.BEARER else f"Basic {_REALM}"


def required(view: Callable[P, ResponseReturnValue]) -> Callable[P, ResponseReturnValue]:
    """Answer 401 with a challenge unless the request carries the configured credentials."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
        state = current_bridge()
        auth: AuthConfig = state.config.auth
        try:
            problem = check(auth, request.headers.get("Authorization"))
        except ValueError as err:
            # The bridge's own secret is unusable (emptied, removed, a line break): no request
            # can be checked, and it is not the sender's fault. 503, so Alertmanager retries.
            state.report_secret_problem(str(err))
            return error_response(503, f"cannot check credentials: {err}")
        state.report_secret_problem(None)
        if problem is not None:
            state.count_rejected(NotificationOutcome.UNAUTHORIZED)
            response = error_response(401, f"unauthorized: {problem}")
            response.headers["WWW-Authenticate"] = challenge(auth)
            return response
        return view(*args, **kwargs)

    return wrapper

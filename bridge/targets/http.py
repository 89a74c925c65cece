"""What every HTTP target shares: settings, URL checks, credentials, one status rule, retry
hints and transport errors.

The status rule (as Alertmanager's ``Retrier.Check``, plus the retryable 408 and 429):

====================  ==========  ====================
status                retry?      reason
====================  ==========  ====================
2xx                   success
3xx                   no          client_error (a redirect means a wrong URL; never followed)
401, 403              no          auth_error
408                   yes         timeout
429                   yes         rate_limited (Retry-After honoured)
other 4xx             no          client_error (the target's message is kept)
5xx                   yes         server_error (Retry-After honoured)
====================  ==========  ====================

Connection failures and timeouts are retryable. Targets with extra rules (Jenkins' 303,
GitHub's rate-limited 403) check those first and fall back on :func:`check_response`.
"""

import email.utils
import html
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

import requests

from bridge import __version__
from bridge.config_reader import Reader
from bridge.credentials import Secret, read_secret
from bridge.targets.base import DispatchError, FailureReason

USER_AGENT = f"drift-retrain-bridge/{__version__}"
DEFAULT_TIMEOUT = 10.0

_EXCERPT = 500
# Servlet containers (Jenkins' Jetty) and proxies answer errors with an HTML page whose title
# carries the message.
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def response_excerpt(response: requests.Response) -> str:
    """The start of a response body, for messages and the audit trail."""
    text = response.text.strip()
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "..."


def response_message(response: requests.Response) -> str:
    """The target's own error message: a JSON ``message`` when there is one, else the body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping) and isinstance(body.get("message"), str):
        return str(body["message"])
    title = _HTML_TITLE.search(response.text[:4096])
    if title and " ".join(title[1].split()):
        return " ".join(html.unescape(title[1]).split())[:200]
    excerpt = response_excerpt(response)
    return excerpt.splitlines()[0][:200] if excerpt else response.reason or "no message"


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or an HTTP date), if the response says."""
    value = headers.get("Retry-After") or headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def check_response(response: requests.Response, what: str) -> None:
    """Raise the DispatchError the status rule gives for ``response``; return on 2xx."""
    status = response.status_code
    if 200 <= status < 300:
        return
    message = f"{what}: HTTP {status}: {response_message(response)}"
    excerpt = response_excerpt(response)
    if 300 <= status < 400:
        location = response.headers.get("Location", "nowhere")
        raise DispatchError(
            f"{what}: HTTP {status} redirect to {location} (check the URL; redirects are not "
            "followed)",
            retryable=False,
            reason=FailureReason.CLIENT_ERROR,
            status=status,
            response=excerpt,
        )
    if status in (401, 403):
        reason, retryable = FailureReason.AUTH_ERROR, False
    elif status == 408:
        reason, retryable = FailureReason.TIMEOUT, True
    elif status == 429:
        reason, retryable = FailureReason.RATE_LIMITED, True
    elif status >= 500:
        reason, retryable = FailureReason.SERVER_ERROR, True
    else:
        reason, retryable = FailureReason.CLIENT_ERROR, False
    raise DispatchError(
        message,
        retryable=retryable,
        reason=reason,
        status=status,
        retry_after=retry_after_seconds(response.headers) if retryable else None,
        response=excerpt,
    )


def request(
    session: requests.Session, method: str, url: str, what: str, timeout: float, **kwargs: Any
) -> requests.Response:
    """One HTTP request, redirects not followed; transport failures become retryable errors."""
    try:
        return session.request(method, url, timeout=timeout, allow_redirects=False, **kwargs)
    except requests.Timeout:
        raise DispatchError(
            f"{what}: no response within {timeout:g}s", retryable=True, reason=FailureReason.TIMEOUT
        ) from None
    except requests.ConnectionError as err:
        raise DispatchError(
            f"{what}: cannot connect: {_root_cause(err)}",
            retryable=True,
            reason=FailureReason.CONNECTION,
        ) from None
    except requests.RequestException as err:
        raise DispatchError(
            f"{what}: {err}", retryable=False, reason=FailureReason.CLIENT_ERROR
        ) from None


def _root_cause(err: BaseException) -> str:
    while err.__cause__ is not None or err.__context__ is not None:
        err = err.__cause__ or err.__context__  # type: ignore[assignment]
    text = str(err)
    # urllib3 wraps the OS error in long reprs; the last part is the useful one.
    return text.rsplit(": ", 1)[-1] if "Errno" in text else text


# -- settings, read when the config loads ---------------------------------------------------------


def check_url(reader: Reader, key: str, url: str, credentials_hint: str) -> SplitResult | None:
    """``url`` split, when it is http(s) with a host and no credentials; else a problem on ``key``.

    ``credentials_hint`` names the settings that carry credentials instead.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        reader.problem(key, f"expected an http:// or https:// URL, got {url!r}")
        return None
    if parts.username is not None or parts.password is not None:
        reader.problem(key, f"must not contain credentials; use {credentials_hint}")
        return None
    return parts


def read_base_url(reader: Reader, key: str, default: Any = None) -> str | None:
    """An http(s) base URL without credentials, query or trailing slash (default None: required)."""
    url = reader.string(key) if default is None else reader.string(key, default)
    if not isinstance(url, str) or not url:
        return None
    parts = check_url(reader, key, url, "the *_file or *_env settings")
    if parts is None:
        return None
    if parts.query or parts.fragment:
        reader.problem(key, "must not have a query or a fragment")
        return None
    return url.rstrip("/")


@dataclass(frozen=True)
class HttpSettings:
    """How an HTTP target talks to its server."""

    timeout: float
    # requests' ``verify``: True, False, or the path of a CA bundle.
    verify: bool | str

    def session(self) -> requests.Session:
        """A new session (one per attempt: no cookie or connection outlives it)."""
        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
        return session

    def request(
        self, session: requests.Session, method: str, url: str, what: str, **kwargs: Any
    ) -> requests.Response:
        """:func:`request` with this timeout and TLS setting."""
        # ``verify`` per request: on the session, REQUESTS_CA_BUNDLE would override it.
        return request(session, method, url, what, self.timeout, verify=self.verify, **kwargs)


def read_http_settings(reader: Reader, default_timeout: float = DEFAULT_TIMEOUT) -> HttpSettings:
    """``timeout``, ``tls_verify`` and ``ca_file``."""
    timeout = reader.duration("timeout", default_timeout, minimum=0.001)
    verify: bool | str = reader.boolean("tls_verify", True)
    ca_file = reader.file_path("ca_file", None)
    if ca_file is not None:
        if verify is False:
            reader.problem("ca_file", "has no effect with tls_verify: false")
        verify = ca_file
    return HttpSettings(timeout=timeout, verify=verify)


def secret_value(secret: Secret, who: str) -> str:
    """The secret's current value; unreadable, it fails the attempt as an ``auth_error``.

    Checked readable at start-up, a secret file can still be removed or emptied later; that is
    not retryable (someone must fix it), and the message names the source, never the value.
    """
    try:
        return secret.get()
    except ValueError as err:
        raise DispatchError(
            f"{who}: {err}", retryable=False, reason=FailureReason.AUTH_ERROR
        ) from None


# A bearer token, or a username and password (HTTP basic), for one HTTP endpoint.
BearerOrBasic = tuple[Secret | None, tuple[str, Secret] | None]


def read_bearer_or_basic(reader: Reader) -> BearerOrBasic:
    """``bearer_token_file|_env`` or ``basic_auth: {username, password_file|_env}`` (or none)."""
    bearer_token = read_secret(reader, "bearer_token", required=False)
    basic_auth = None
    if reader.has("basic_auth"):
        basic = reader.child("basic_auth")
        username = basic.string("username")
        password = read_secret(basic, "password")
        basic.reject_unknown()
        if isinstance(username, str) and password is not None:
            basic_auth = (username, password)
        if reader.has("bearer_token_file") or reader.has("bearer_token_env"):
            reader.problem("basic_auth", "set either bearer_token_file/_env or basic_auth")
    return bearer_token, basic_auth


def apply_bearer_or_basic(
    auth: BearerOrBasic, session: requests.Session, headers: dict[str, str], who: str
) -> None:
    """Authenticate the session's next request; an unusable secret raises DispatchError."""
    bearer_token, basic_auth = auth
    if bearer_token is not None:
        headers["Authorization"] = f"Bearer {secret_value(bearer_token, who)}"
    elif basic_auth is not None:
        session.auth = (basic_auth[0], secret_value(basic_auth[1], who))

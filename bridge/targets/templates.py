"""What targets share besides the status rule: config-time templates, templated URL paths, HTTP
settings, and reading a stored :data:`Request` back.

Templates are compiled when the config loads (a syntax error is a config problem) and rendered
per dispatch (a missing variable fails that dispatch with ``INVALID_REQUEST``).
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import requests

from bridge import __version__
from bridge.config_reader import Reader
from bridge.targets.base import DispatchError, FailureReason, Request
from bridge.targets.http import request as http_request
from bridge.templating import Template, TemplateError

T = TypeVar("T")

USER_AGENT = f"drift-retrain-bridge/{__version__}"

_TEMPLATE_SYNTAX = re.compile(r"\{\{|\{%|\{#")


def is_templated(text: str) -> bool:
    """True when ``text`` contains template syntax."""
    return bool(_TEMPLATE_SYNTAX.search(text))


def invalid(message: str) -> DispatchError:
    """The error for a dispatch that can never be sent as built."""
    return DispatchError(message, retryable=False, reason=FailureReason.INVALID_REQUEST)


def compile_template(reader: Reader, key: str, source: str) -> Template | None:
    """Compile ``source`` read from ``key``; a syntax error is recorded as a problem."""
    try:
        return Template(source, reader.key_path(key))
    except TemplateError as err:
        reader.problem(key, str(err).split(": ", 1)[-1])
        return None


def render(template: Template, variables: Mapping[str, Any]) -> str:
    """Render a target-level template; a failure makes the dispatch invalid."""
    try:
        return template.render(variables)
    except TemplateError as err:
        raise invalid(str(err)) from None


class PathTemplate:
    """A URL path whose segments may be templates.

    A segment holding a template is URL-encoded as a whole once rendered (``quote(safe="")``), so
    alert data can never add path segments, a query or a dot-segment.
    """

    def __init__(self, segments: list[Template | str], encode_literals: bool) -> None:
        self.segments = segments
        # Jenkins job names are names, not URL text: they are encoded too.
        self.encode_literals = encode_literals

    @classmethod
    def parse(
        cls, reader: Reader, key: str, path: str, encode_literals: bool = False
    ) -> "PathTemplate | None":
        """Split ``path`` on ``/`` and compile each templated segment; problems are recorded."""
        segments: list[Template | str] = []
        ok = True
        for index, part in enumerate(path.split("/")):
            if not is_templated(part):
                segments.append(part)
                continue
            template = compile_template(reader, key, part)
            if template is None:
                ok = False
            else:
                template.where = f"{reader.key_path(key)} (segment {index + 1})"
                segments.append(template)
        return cls(segments, encode_literals) if ok else None

    def render(self, variables: Mapping[str, Any]) -> list[str]:
        """The encoded segments for ``variables``."""
        rendered = []
        for segment in self.segments:
            if isinstance(segment, str):
                rendered.append(quote(segment, safe="") if self.encode_literals else segment)
                continue
            text = render(segment, variables)
            if text in ("", ".", ".."):
                raise invalid(f"{segment.where}: rendered as {text!r}, which is not a path segment")
            rendered.append(quote(text, safe=""))
        return rendered


def read_base_url(reader: Reader, key: str, default: Any = None) -> str | None:
    """An http(s) base URL without credentials, query or trailing slash (default None: required)."""
    url = reader.string(key) if default is None else reader.string(key, default)
    if not isinstance(url, str) or not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        reader.problem(key, f"expected an http:// or https:// URL, got {url!r}")
        return None
    if parts.username is not None or parts.password is not None:
        reader.problem(key, "must not contain credentials; use the *_file or *_env settings")
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
        """:func:`bridge.targets.http.request` with this timeout and TLS setting."""
        # ``verify`` per request: on the session, REQUESTS_CA_BUNDLE would override it.
        return http_request(session, method, url, what, self.timeout, verify=self.verify, **kwargs)


def read_http_settings(reader: Reader, default_timeout: float = 10.0) -> HttpSettings:
    """``timeout``, ``tls_verify`` and ``ca_file``."""
    timeout = reader.duration("timeout", default_timeout, minimum=0.001)
    verify: bool | str = reader.boolean("tls_verify", True)
    ca_file = reader.file_path("ca_file", None)
    if ca_file is not None:
        if verify is False:
            reader.problem("ca_file", "has no effect with tls_verify: false")
        verify = ca_file
    return HttpSettings(timeout=timeout, verify=verify)


def with_dispatch_id(
    parameters: Mapping[str, str], name: str, dispatch_id: str, setting: str
) -> dict[str, str]:
    """The parameters plus the dispatch id under ``name``; a different value there is invalid."""
    merged = dict(parameters)
    if merged.get(name, dispatch_id) != dispatch_id:
        raise invalid(
            f"parameter {name!r} is reserved for the dispatch id (see {setting}); "
            "rename the route's parameter"
        )
    merged[name] = dispatch_id
    return merged


def stored(request: Request, key: str, kind: type[T]) -> T:
    """``request[key]`` checked to be a ``kind``: a stored request may predate this version."""
    value = request.get(key)
    if not isinstance(value, kind):
        raise invalid(f"stored request has no valid {key!r}; prepare the dispatch again")
    return value

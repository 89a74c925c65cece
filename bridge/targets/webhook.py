"""A generic HTTP endpoint (Airflow, Kubeflow, anything with an API) that gets a JSON description.

Settings (``targets.<name>`` with ``type: webhook``):

==========================  ========================================================================
``url``                     http(s) URL; templates only in the path, each templated segment
                            URL-encoded once rendered (``https://h/api/{{ labels.model }}/run``)
``method``                  ``POST`` (default), ``PUT`` or ``PATCH``
``headers``                 static extra headers (no ``Authorization``: use the settings below)
``bearer_token_file|_env``  ``Authorization: Bearer``; or
``basic_auth``              ``{username, password_file|_env}``
``timeout``                 default ``10s``
``tls_verify``              default ``true``
``ca_file``                 CA bundle of a private CA (default: the system's)
==========================  ========================================================================

The body::

    {"dispatch_id": "...", "route": "...", "parameters": {...},
     "alert": {"status", "labels", "annotations", "startsAt", "endsAt", "fingerprint",
               "generatorURL"}}

with the header ``X-Drift-Bridge-Dispatch-Id``. Statuses follow
:func:`bridge.targets.http.check_response`.
"""

from typing import Any

from bridge.config_reader import Reader
from bridge.credentials import Secret
from bridge.targets.base import DispatchResult, Job, Request, stored
from bridge.targets.http import (
    HttpSettings,
    apply_bearer_or_basic,
    check_response,
    check_url,
    read_bearer_or_basic,
    read_http_settings,
    response_excerpt,
)
from bridge.targets.templates import PathTemplate, is_templated

METHODS = ("POST", "PUT", "PATCH")
DEFAULT_METHOD = "POST"
DISPATCH_ID_HEADER = "X-Drift-Bridge-Dispatch-Id"


class WebhookTarget:
    """Sends the dispatch as JSON to a URL.

    >>> target.send(target.prepare(job)).status
    200
    """

    type = "webhook"

    def __init__(
        self,
        name: str,
        origin: str,
        path: PathTemplate,
        query: str,
        http: HttpSettings,
        method: str = DEFAULT_METHOD,
        headers: dict[str, str] | None = None,
        bearer_token: Secret | None = None,
        basic_auth: tuple[str, Secret] | None = None,
    ) -> None:
        self.name = name
        # scheme://host[:port], then the (templated) path and a static query.
        self.origin = origin
        self.path = path
        self.query = query
        self.http = http
        self.method = method
        self.headers = dict(headers or {})
        self.bearer_token = bearer_token
        self.basic_auth = basic_auth

    def prepare(self, job: Job) -> Request:
        """The request for ``job``: URL, headers (no credentials) and the JSON body."""
        variables = job.variables
        url = self.origin + "/".join(self.path.render(variables))
        if self.query:
            url += "?" + self.query
        body = {
            "dispatch_id": job.dispatch_id,
            "route": variables.get("route"),
            "parameters": dict(job.parameters),
            "alert": {
                "status": variables.get("status"),
                "labels": dict(variables.get("labels") or {}),
                "annotations": dict(variables.get("annotations") or {}),
                "startsAt": variables.get("starts_at"),
                "endsAt": variables.get("ends_at"),
                "fingerprint": variables.get("fingerprint"),
                "generatorURL": variables.get("generator_url"),
            },
        }
        request: Request = {
            "method": self.method,
            "url": url,
            "headers": {**self.headers, DISPATCH_ID_HEADER: job.dispatch_id},
            "json": body,
        }
        if self.bearer_token is not None:
            request["auth"] = "bearer token"
        elif self.basic_auth is not None:
            request["auth"] = f"basic, user {self.basic_auth[0]}"
        return request

    def interrupt(self) -> None:
        """Nothing to end: an HTTP attempt finishes within its timeout."""

    def send(self, request: Request) -> DispatchResult:
        """Make the request once."""
        method = stored(request, "method", str)
        url = stored(request, "url", str)
        body = stored(request, "json", dict)
        headers = {str(k): str(v) for k, v in (request.get("headers") or {}).items()}
        what = f"webhook {self.name} {method} {url}"
        with self.http.session() as session:
            auth = (self.bearer_token, self.basic_auth)
            apply_bearer_or_basic(auth, session, headers, f"webhook {self.name}")
            response = self.http.request(session, method, url, what, json=body, headers=headers)
        check_response(response, what)
        details: dict[str, Any] = {}
        if response.content:
            details["response"] = response_excerpt(response)
        return DispatchResult(f"HTTP {response.status_code}", details, response.status_code)


def from_config(name: str, reader: Reader) -> WebhookTarget | None:
    """Read and check a ``type: webhook`` target."""
    problems = len(reader.problems)
    url = reader.string("url")
    parsed = None
    path = None
    if isinstance(url, str) and url:
        parsed = check_url(reader, "url", url, "bearer_token or basic_auth")
    if parsed is not None:
        if any(is_templated(part) for part in (parsed.netloc, parsed.query, parsed.fragment)):
            reader.problem("url", "templates are only allowed in the path")
        else:
            path = PathTemplate.parse(reader, "url", parsed.path)
    method = reader.string("method", DEFAULT_METHOD, choices=METHODS)
    headers = reader.string_map("headers", {})
    for header, value in headers.items():
        if header.lower() == "authorization":
            reader.problem(
                f"headers.{header}", "secrets never go in the file: use bearer_token or basic_auth"
            )
        elif is_templated(value):
            reader.problem(f"headers.{header}", "headers are static; templates are not rendered")
    bearer_token, basic_auth = read_bearer_or_basic(reader)
    http = read_http_settings(reader)
    reader.reject_unknown()
    if len(reader.problems) > problems or parsed is None or path is None:
        return None
    return WebhookTarget(
        name,
        f"{parsed.scheme}://{parsed.netloc}",
        path,
        parsed.query,
        http,
        method=method,
        headers=headers,
        bearer_token=bearer_token,
        basic_auth=basic_auth,
    )

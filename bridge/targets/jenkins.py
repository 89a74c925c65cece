"""Jenkins: ``POST {url}/job/A/job/B/buildWithParameters`` with the parameters as a form body.

Settings (``targets.<name>`` with ``type: jenkins``):

=========================  =========================================================================
``url``                    base URL, with the context path if any (``https://ci.example.com/jenkins``)
``job``                    job path with folders, ``ml/retrain``; each segment may be a template and
                           is URL-encoded once rendered (write names as Jenkins shows them)
``user``                   user name, with ``api_token_file|_env`` (HTTP basic, no crumb needed) or
                           ``password_file|_env`` (a CSRF crumb and its session cookie are fetched
                           from ``/crumbIssuer/api/json`` first; 404 there means CSRF is off)
``build_token_file|_env``  the job's "Trigger builds remotely" token (sent as the ``token`` form
                           field); alone or with a user
``dispatch_id_parameter``  parameter carrying the dispatch id, default ``DISPATCH_ID``; always sent,
                           so Jenkins never merges two dispatches into one queue item
``delay``                  quiet period, e.g. ``0s`` or ``30s`` (default: the job's own)
``timeout``                per request, default ``10s``
``tls_verify``             default ``true``
``ca_file``                CA bundle of a private CA (default: the system's)
=========================  =========================================================================

``201`` + ``Location`` records the queue item URL; ``303`` to a queue item means an identical
request is already waiting (our own earlier attempt whose answer was lost) and is a success with
``merged: true``.
Every other status follows :func:`bridge.targets.http.check_response`, with Jenkins' message.
Parameters named ``token`` or ``delay`` would collide with Jenkins' own fields.
"""

import re
from typing import Any
from urllib.parse import urljoin

import requests

from bridge.config_reader import Reader
from bridge.credentials import Secret, read_secret
from bridge.targets.base import (
    DispatchError,
    DispatchResult,
    FailureReason,
    Job,
    Request,
    stored,
    with_dispatch_id,
)
from bridge.targets.http import (
    HttpSettings,
    check_response,
    read_base_url,
    read_http_settings,
    secret_value,
)
from bridge.targets.templates import PathTemplate

DEFAULT_DISPATCH_ID_PARAMETER = "DISPATCH_ID"
_QUEUE_ITEM = re.compile(r"/queue/item/\d+/?$")


class JenkinsTarget:
    """Queues a parameterized Jenkins build.

    >>> target.send(target.prepare(job)).details
    {'queue_url': 'https://ci.example.com/queue/item/42/'}
    """

    type = "jenkins"

    def __init__(
        self,
        name: str,
        url: str,
        job: PathTemplate,
        http: HttpSettings,
        user: str | None = None,
        api_token: Secret | None = None,
        password: Secret | None = None,
        build_token: Secret | None = None,
        dispatch_id_parameter: str = DEFAULT_DISPATCH_ID_PARAMETER,
        delay: float | None = None,
    ) -> None:
        self.name = name
        self.url = url
        self.job = job
        self.http = http
        self.user = user
        self.api_token = api_token
        self.password = password
        self.build_token = build_token
        self.dispatch_id_parameter = dispatch_id_parameter
        self.delay = delay

    @property
    def auth_description(self) -> str:
        """How requests authenticate, without the secret."""
        if self.user is not None and self.api_token is not None:
            how = f"user {self.user} with an API token"
        elif self.user is not None:
            how = f"user {self.user} with a password and a CSRF crumb"
        else:
            how = "anonymous with a CSRF crumb"
        return how + (" and the job's build token" if self.build_token is not None else "")

    def prepare(self, job: Job) -> Request:
        """The buildWithParameters request for ``job``."""
        path = "".join(f"/job/{segment}" for segment in self.job.render(job.variables))
        form = with_dispatch_id(
            job.parameters, self.dispatch_id_parameter, job.dispatch_id, "dispatch_id_parameter"
        )
        request: Request = {
            "method": "POST",
            "url": f"{self.url}{path}/buildWithParameters",
            "form": form,
            "auth": self.auth_description,
        }
        if self.delay is not None:
            # A bare number would be milliseconds.
            request["query"] = {"delay": f"{round(self.delay)}sec"}
        return request

    def interrupt(self) -> None:
        """Nothing to end: an HTTP attempt finishes within its timeout."""

    def send(self, request: Request) -> DispatchResult:
        """Queue the build: one POST, after a crumb request when a crumb is needed."""
        url = stored(request, "url", str)
        form = dict(stored(request, "form", dict))
        query = request.get("query") or {}
        with self.http.session() as session:
            who = f"Jenkins {self.name}"
            if self.user is not None:
                secret = self.api_token or self.password
                assert secret is not None
                session.auth = (self.user, secret_value(secret, who))
            if self.build_token is not None:
                form["token"] = secret_value(self.build_token, who)
            if self.api_token is None:
                self._add_crumb(session)
            what = f"Jenkins {self.name} {url}"
            response = self.http.request(session, "POST", url, what, data=form, params=query)
        location = response.headers.get("Location")
        queue_url = urljoin(url, location) if location else None
        # Only a 303 to a queue item is a merge; a proxy's 303 to a login page is not.
        if response.status_code == 303 and queue_url and _QUEUE_ITEM.search(queue_url):
            return DispatchResult(
                f"already queued as {queue_url} (identical request merged)",
                {"queue_url": queue_url, "merged": True},
                status=303,
            )
        check_response(response, what)
        details: dict[str, Any] = {"queue_url": queue_url} if queue_url else {}
        summary = (
            f"queued as {queue_url}" if queue_url else f"accepted (HTTP {response.status_code})"
        )
        return DispatchResult(summary, details, status=response.status_code)

    def _add_crumb(self, session: requests.Session) -> None:
        """Fetch a crumb; the session keeps the cookie it is bound to (Jenkins 2.176+)."""
        what = f"Jenkins {self.name} crumb issuer"
        url = f"{self.url}/crumbIssuer/api/json"
        response = self.http.request(session, "GET", url, what)
        if response.status_code == 404:
            return  # CSRF protection is off
        if self.user is None and response.status_code in (401, 403):
            # Anonymous users may not read the crumb issuer; the POST will say if one is needed.
            return
        check_response(response, what)
        try:
            body = response.json()
            session.headers[str(body["crumbRequestField"])] = str(body["crumb"])
        except (ValueError, KeyError, TypeError):
            raise DispatchError(
                f"{what}: unexpected answer (not a crumb): {response.text[:200]!r}",
                retryable=True,
                reason=FailureReason.SERVER_ERROR,
                status=response.status_code,
            ) from None


def from_config(name: str, reader: Reader) -> JenkinsTarget | None:
    """Read and check a ``type: jenkins`` target."""
    problems = len(reader.problems)
    url = read_base_url(reader, "url")
    job_path = reader.string("job")
    job = None
    if isinstance(job_path, str) and job_path:
        if any(not part.strip() for part in job_path.split("/")):
            reader.problem("job", f"empty folder or job name in {job_path!r} (use ml/retrain)")
        else:
            job = PathTemplate.parse(reader, "job", job_path, encode_literals=True)
    user = reader.string("user", None)
    api_token = read_secret(reader, "api_token", required=False)
    password = read_secret(reader, "password", required=False)
    build_token = read_secret(reader, "build_token", required=False)
    has_token = reader.has("api_token_file") or reader.has("api_token_env")
    has_password = reader.has("password_file") or reader.has("password_env")
    if has_token and has_password:
        reader.problem("password_file", "set either an API token or a password, not both")
    elif (has_token or has_password) and user is None:
        reader.problem("user", "is required with an API token or a password")
    elif user is not None and not (has_token or has_password):
        reader.problem("user", "needs api_token_file/api_token_env (or password_file/password_env)")
    dispatch_id_parameter = reader.string("dispatch_id_parameter", DEFAULT_DISPATCH_ID_PARAMETER)
    if dispatch_id_parameter == "":
        reader.problem("dispatch_id_parameter", "must not be empty")
    delay = reader.duration("delay", None)
    http = read_http_settings(reader)
    reader.reject_unknown()
    if len(reader.problems) > problems or url is None or job is None:
        return None
    return JenkinsTarget(
        name,
        url,
        job,
        http,
        user=user,
        api_token=api_token,
        password=password,
        build_token=build_token,
        dispatch_id_parameter=dispatch_id_parameter,
        delay=delay,
    )

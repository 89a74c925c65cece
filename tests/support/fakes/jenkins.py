"""A fake Jenkins that answers the remote API the way Jenkins 2.4xx-2.5xx does.

>>> with FakeJenkins(context_path="/jenkins") as jenkins:
...     jenkins.add_user("bot", api_token="t0ken")           # basic auth user:apiToken, no crumb
...     jenkins.add_user("alice", password="secret")         # needs crumb + session cookie
...     job = jenkins.add_job("ml/retrain", {"MODEL": "", "DISPATCH_ID": ""}, token="build-tok")
...     ...  # POST {jenkins.url}/job/ml/job/retrain/buildWithParameters
...     jenkins.queue                  # queue items, each with .parameters
...     jenkins.start_builds()         # waiting items leave the queue as running builds
...     jenkins.finish_build(job, 1, "SUCCESS")
...     jenkins.lifecycle = Lifecycle(start_after=0.1, run_for=0.5, result="FAILURE")  # all
...     jenkins.plan("drb-7", Lifecycle(start_after=0, cancel=True))  # the item with that value
...     jenkins.left_item_ttl = 1.0    # left items answer 404 this long after leaving (300 s)

Faithful points (see ``../shared/API-NOTES.md``): folders (``/job/a/job/b``); ``201`` +
``Location: <base>/queue/item/N/``; an identical set of parameter values already waiting gives
``303`` to that item; unknown parameters are ignored and missing ones take their defaults;
``404`` unknown job, ``409`` disabled job, ``400`` job not parameterized, ``401`` bad credentials,
``403`` bad crumb or build token; with ``csrf=True`` (default) every POST not authenticated by an
API token needs the crumb from ``/crumbIssuer/api/json`` *and* that response's session cookie;
``csrf=False`` makes ``/crumbIssuer`` answer 404. Errors come as Jetty HTML pages (message in
``<title>``) or, for 400/409, as a plain-text stack trace, as Jenkins sends them. Every response
carries ``X-Jenkins``. Fault injection and ``received``: see :mod:`tests.support.fakes.server`.

The lifecycle (API-NOTES "Following a retraining to its end"): a queue item waits (its quiet
period, then until its lifecycle starts it), leaves the queue as a build (``executable``) or
cancelled (``cancelled: true``, no executable), and answers 404 ``left_item_ttl`` seconds after it
left; a build runs (``building``, ``result: null``) until its lifecycle gives it a result, with
its real ``duration`` in ms. ``GET /queue/api/json`` lists waiting items with their parameters;
``GET /job/NAME/api/json`` lists ``builds`` (newest first, the last 100) as ``{_class, number,
url}``, or with ``result``/``building``/``actions`` when ``tree=`` asks for them.
"""

import base64
import hashlib
import html
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from flask import Response, jsonify, request

from tests.support.fakes.lifecycle import Lifecycle, Plans
from tests.support.fakes.server import FakeServer, raw_path

VERSION = "2.578"
CRUMB_FIELD = "Jenkins-Crumb"


@dataclass
class Build:
    """One run of a job."""

    number: int
    queue_id: int
    parameters: dict[str, str]
    timestamp: int
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    result: str | None = None
    duration_ms: int = 0

    @property
    def building(self) -> bool:
        """True until finish_build gives it a result."""
        return self.result is None


@dataclass
class Job:
    """A job; ``parameters``: each parameter's default (None: the job is not parameterized)."""

    full_name: str
    parameters: dict[str, str] | None
    disabled: bool = False
    token: str | None = None
    builds: dict[int, Build] = field(default_factory=dict)
    next_build_number: int = 1

    @property
    def path(self) -> str:
        """``job/a/job/b``, each name URL-encoded."""
        return "/".join(f"job/{quote(name, safe='')}" for name in self.full_name.split("/"))


@dataclass
class QueueItem:
    """A queue item; it leaves the queue when start_builds runs it."""

    id: int
    job: Job
    parameters: dict[str, str]
    in_queue_since: int
    quiet_period: float
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    build: Build | None = None
    cancelled: bool = False
    left_at: float | None = None

    @property
    def waiting(self) -> bool:
        """Still in the queue."""
        return self.build is None and not self.cancelled


@dataclass
class _Caller:
    user: str | None  # None: anonymous
    by_api_token: bool = False


class FakeJenkins(FakeServer):
    """Jenkins' remote API for jobs, the queue and builds, with users, crumbs and build tokens."""

    def __init__(self, context_path: str = "", csrf: bool = True) -> None:
        super().__init__("fake-jenkins", context_path)
        self.csrf = csrf
        self.users: dict[str, tuple[str | None, str | None]] = {}
        self.jobs: dict[str, Job] = {}
        self.queue: list[QueueItem] = []
        self._sessions: dict[str, str | None] = {}  # session id -> user
        self._salt = secrets.token_hex(8)
        self._cookie = f"JSESSIONID.{secrets.token_hex(4)}"
        self._next_queue_id = 1
        self._state = threading.RLock()
        self.plans = Plans()
        # Seconds a queue item that left the queue is still answered (Jenkins: about 5 minutes).
        self.left_item_ttl = 300.0
        self.app.add_url_rule(
            "/<path:anything>", "all", self._dispatch, methods=["GET", "POST", "PUT", "PATCH"]
        )
        self.app.after_request(self._jenkins_headers)

    # -- setup -------------------------------------------------------------------------------

    def add_user(
        self, name: str, api_token: str | None = None, password: str | None = None
    ) -> None:
        """A user who authenticates with an API token and/or a password."""
        self.users[name] = (api_token, password)

    def add_job(
        self,
        full_name: str,
        parameters: Mapping[str, str] | None = None,
        disabled: bool = False,
        token: str | None = None,
    ) -> Job:
        """A job (``folder/name``); ``parameters``: name -> default, None: not parameterized."""
        job = Job(full_name, None if parameters is None else dict(parameters), disabled, token)
        self.jobs[full_name] = job
        return job

    @property
    def lifecycle(self) -> Lifecycle:
        """How every queue item without a plan of its own proceeds."""
        return self.plans.default

    @lifecycle.setter
    def lifecycle(self, lifecycle: Lifecycle) -> None:
        self.plans.default = lifecycle

    def plan(self, value: str, lifecycle: Lifecycle) -> None:
        """Queue items with a parameter whose value is ``value`` follow ``lifecycle``."""
        self.plans.plan(value, lifecycle)

    def start_builds(self) -> list[Build]:
        """Every waiting queue item leaves the queue as a running build."""
        with self._state:
            return [self._start(item, time.time()) for item in self.queue if item.waiting]

    def finish_build(
        self, job: Job, number: int, result: str = "SUCCESS", duration_ms: int | None = None
    ) -> None:
        """Give a running build its result (and its duration: by default, since it started)."""
        with self._state:
            build = job.builds[number]
            build.result = result
            build.duration_ms = _now_ms() - build.timestamp if duration_ms is None else duration_ms

    def cancel(self, item_id: int) -> None:
        """Cancel a waiting queue item (someone pressed the red cross)."""
        with self._state:
            item = next(i for i in self.queue if i.id == item_id)
            if item.waiting:
                item.cancelled, item.left_at = True, time.time()

    def expire_left_items(self) -> None:
        """Forget every item that left the queue now, as Jenkins does after five minutes."""
        with self._state:
            self.queue = [item for item in self.queue if item.waiting]

    def builds_of(self, full_name: str) -> list[Build]:
        """Every build of a job, oldest first."""
        with self._state:
            self._advance()
            return sorted(self.jobs[full_name].builds.values(), key=lambda b: b.number)

    def _start(self, item: QueueItem, now: float) -> Build:
        job = item.job
        build = Build(
            job.next_build_number, item.id, item.parameters, int(now * 1000), item.lifecycle
        )
        job.builds[build.number] = build
        job.next_build_number += 1
        item.build, item.left_at = build, now
        return build

    def _advance(self) -> None:
        """Bring every item and build to where its lifecycle says it is now."""
        now = time.time()
        for item in self.queue:
            plan = item.lifecycle
            ready_at = item.in_queue_since / 1000 + item.quiet_period
            if item.waiting and now >= ready_at and plan.starts(ready_at, now):
                if plan.cancel:
                    item.cancelled, item.left_at = True, now
                else:
                    self._start(item, now)
        for job in self.jobs.values():
            for build in job.builds.values():
                plan = build.lifecycle
                if build.result is None and plan.finishes(build.timestamp / 1000, now):
                    build.result = plan.result or "SUCCESS"
                    build.duration_ms = int((plan.run_for or 0) * 1000)
        self.queue = [
            item
            for item in self.queue
            if item.left_at is None or now < item.left_at + self.left_item_ttl
        ]

    # -- responses ---------------------------------------------------------------------------

    def error_response(self, status: int, message: str) -> Response:
        """Jetty's HTML error page, whose title carries the message."""
        text = html.escape(f"Error {status} {message}")
        page = (
            '<html>\n<head>\n<meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>\n'
            f"<title>{text}</title>\n</head>\n<body><h2>HTTP ERROR {status} "
            f"{html.escape(message)}</h2>\n</body>\n</html>\n"
        )
        return Response(page, status=status, mimetype="text/html")

    def _stack_trace(self, status: int, exception: str) -> Response:
        """What Stapler's HttpResponses.error writes: the exception's stack trace."""
        body = f"{exception}\n\tat jenkins.model.ParameterizedJobMixIn.doBuildWithParameters\n"
        return Response(body, status=status, mimetype="text/plain")

    def _jenkins_headers(self, response: Response) -> Response:
        response.headers["X-Jenkins"] = VERSION
        return response

    # -- routing -----------------------------------------------------------------------------

    def _dispatch(self, anything: str) -> Response:
        path = raw_path()
        if not path.startswith(self.prefix + "/"):
            return self.error_response(404, "Not Found")
        parts = [unquote(part) for part in path[len(self.prefix) + 1 :].split("/")]
        if parts and parts[-1] == "":
            parts.pop()
        caller = self._authenticate()
        if isinstance(caller, Response):
            return caller
        with self._state:
            self._advance()
        if parts == ["crumbIssuer", "api", "json"] and request.method == "GET":
            return self._crumb(caller)
        needs_crumb = request.method == "POST" and self.csrf and not caller.by_api_token
        if needs_crumb and not self._crumb_valid(caller):
            return self.error_response(403, "No valid crumb was included in the request")
        if len(parts) == 5 and parts[:2] == ["queue", "item"] and parts[3:] == ["api", "json"]:
            return self._queue_item(caller, parts[2])
        if parts == ["queue", "api", "json"] and request.method == "GET":
            return self._queue_listing(caller)
        if parts[:1] == ["job"]:
            return self._job_route(caller, parts)
        return self.error_response(404, "Not Found")

    def _authenticate(self) -> "_Caller | Response":
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return _Caller(None)
        try:
            user, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            user, secret = "", ""
        api_token, password = self.users.get(user, (None, None))
        if api_token is not None and secret == api_token:
            return _Caller(user, by_api_token=True)
        if password is not None and secret == password:
            return _Caller(user)
        response = self.error_response(401, f"Invalid password/token for user: {user}")
        response.headers["WWW-Authenticate"] = 'Basic realm="Jenkins"'
        return response

    def _crumb_for(self, session: str, user: str | None) -> str:
        return hashlib.sha256(f"{session}:{user}:{self._salt}".encode()).hexdigest()

    def _crumb(self, caller: _Caller) -> Response:
        if not self.csrf:
            return self.error_response(404, "Not Found")
        session = request.cookies.get(self._cookie)
        new_session = session is None or self._sessions.get(session, "?") != caller.user
        if new_session:
            session = secrets.token_hex(16)
            self._sessions[session] = caller.user
        assert session is not None
        response = jsonify(
            {
                "_class": "hudson.security.csrf.DefaultCrumbIssuer",
                "crumb": self._crumb_for(session, caller.user),
                "crumbRequestField": CRUMB_FIELD,
            }
        )
        if new_session:
            response.set_cookie(self._cookie, session, path=self.prefix or "/", httponly=True)
        return response

    def _crumb_valid(self, caller: _Caller) -> bool:
        session = request.cookies.get(self._cookie)
        crumb = request.headers.get(CRUMB_FIELD) or request.form.get(CRUMB_FIELD)
        if session is None or crumb is None or self._sessions.get(session, "?") != caller.user:
            return False
        return secrets.compare_digest(crumb, self._crumb_for(session, caller.user))

    def _job_route(self, caller: _Caller, parts: list[str]) -> Response:
        names = []
        index = 0
        while index + 1 < len(parts) and parts[index] == "job":
            names.append(parts[index + 1])
            index += 2
        rest = parts[index:]
        # An encoded "/" cannot be part of a name: it never finds a job.
        job = None if any("/" in name for name in names) else self.jobs.get("/".join(names))
        if job is None:
            return self.error_response(404, "Not Found")
        if request.method == "POST" and rest in (["buildWithParameters"], ["build"]):
            return self._build(caller, job, parameterized=rest == ["buildWithParameters"])
        if caller.user is None:
            return self.error_response(403, "anonymous is missing the Overall/Read permission")
        if request.method == "GET" and rest == ["api", "json"]:
            with self._state:
                return jsonify(self._job_json(job))
        if request.method == "GET" and len(rest) == 3 and rest[1:] == ["api", "json"]:
            build = job.builds.get(int(rest[0])) if rest[0].isdigit() else None
            if build is None:
                return self.error_response(404, "Not Found")
            with self._state:
                return jsonify(self._build_json(job, build))
        return self.error_response(404, "Not Found")

    def _build(self, caller: _Caller, job: Job, parameterized: bool) -> Response:
        values = {**request.args.to_dict(), **request.form.to_dict()}
        token = values.get("token")
        if job.token is not None and token is not None:
            if not secrets.compare_digest(token, job.token):
                return self.error_response(403, "Invalid token provided")
        elif caller.user is None:
            return self.error_response(403, "anonymous is missing the Job/Build permission")
        if job.disabled:
            return self._stack_trace(409, f"java.io.IOException: {job.full_name} is not buildable")
        if parameterized and job.parameters is None:
            return self._stack_trace(
                400, f"java.io.IOException: {job.full_name} is not parameterized"
            )
        parameters = {
            name: values.get(name, default) for name, default in (job.parameters or {}).items()
        }
        quiet_period = _quiet_period(values.get("delay"))
        with self._state:
            for item in self.queue:
                if item.waiting and item.job is job and item.parameters == parameters:
                    response = Response("", status=303)
                    response.headers["Location"] = self._queue_url(item)
                    return response
            item = QueueItem(
                self._next_queue_id,
                job,
                parameters,
                _now_ms(),
                quiet_period,
                self.plans.for_values(tuple(parameters.values())),
            )
            self._next_queue_id += 1
            self.queue.append(item)
        response = Response("", status=201)
        response.headers["Location"] = self._queue_url(item)
        return response

    def _queue_url(self, item: QueueItem) -> str:
        return f"{self.url}/queue/item/{item.id}/"

    def _job_url(self, job: Job) -> str:
        return f"{self.url}/{job.path}/"

    def _queue_listing(self, caller: _Caller) -> Response:
        if caller.user is None:
            return self.error_response(403, "anonymous is missing the Overall/Read permission")
        with self._state:
            items = [self._item_json(item) for item in self.queue if item.waiting]
        return jsonify({"_class": "hudson.model.Queue", "discoverableItems": [], "items": items})

    def _queue_item(self, caller: _Caller, item_id: str) -> Response:
        if caller.user is None:
            return self.error_response(403, "anonymous is missing the Overall/Read permission")
        with self._state:
            item = next((i for i in self.queue if str(i.id) == item_id), None)
            if item is None:
                return self.error_response(404, "Not Found")
            return jsonify(self._item_json(item))

    def _item_json(self, item: QueueItem) -> dict[str, Any]:
        task = {
            "_class": "hudson.model.FreeStyleProject",
            "name": item.job.full_name.rsplit("/", 1)[-1],
            "url": self._job_url(item.job),
        }
        body: dict[str, Any] = {
            "actions": [_parameters_action(item.parameters)],
            "blocked": False,
            "buildable": False,
            "id": item.id,
            "inQueueSince": item.in_queue_since,
            "stuck": False,
            "task": task,
            "url": f"queue/item/{item.id}/",
        }
        if item.waiting:
            expires = item.in_queue_since / 1000 + item.quiet_period - time.time()
            body["_class"] = "hudson.model.Queue$WaitingItem"
            body["why"] = f"In the quiet period. Expires in {max(0.0, expires):.1f} sec"
        else:
            body["_class"] = "hudson.model.Queue$LeftItem"
            body["why"] = None
            body["cancelled"] = item.cancelled
            build = item.build
            body["executable"] = (
                None
                if build is None
                else {
                    "_class": "hudson.model.FreeStyleBuild",
                    "number": build.number,
                    "url": f"{self._job_url(item.job)}{build.number}/",
                }
            )
        return body

    def _job_json(self, job: Job) -> dict[str, Any]:
        definitions = [
            {"name": name, "defaultParameterValue": {"name": name, "value": default}}
            for name, default in (job.parameters or {}).items()
        ]
        properties = (
            []
            if job.parameters is None
            else [
                {
                    "_class": "hudson.model.ParametersDefinitionProperty",
                    "parameterDefinitions": definitions,
                }
            ]
        )
        tree = request.args.get("tree", "")
        detailed = "builds[" in tree and "actions" in tree
        builds = sorted(job.builds.values(), key=lambda b: -b.number)[:100]
        return {
            "_class": "hudson.model.FreeStyleProject",
            "name": job.full_name.rsplit("/", 1)[-1],
            "fullName": job.full_name,
            "builds": [
                self._build_json(job, build)
                if detailed
                else {
                    "_class": "hudson.model.FreeStyleBuild",
                    "number": build.number,
                    "url": f"{self._job_url(job)}{build.number}/",
                }
                for build in builds
            ],
            "url": self._job_url(job),
            "buildable": not job.disabled,
            "inQueue": any(i.waiting and i.job is job for i in self.queue),
            "nextBuildNumber": job.next_build_number,
            "property": properties,
        }

    def _build_json(self, job: Job, build: Build) -> dict[str, Any]:
        return {
            "_class": "hudson.model.FreeStyleBuild",
            "actions": [_parameters_action(build.parameters)],
            "building": build.building,
            "inProgress": build.building,
            "duration": 0 if build.building else build.duration_ms,
            "estimatedDuration": 1000,
            "fullDisplayName": f"{job.full_name.replace('/', ' » ')} #{build.number}",
            "id": str(build.number),
            "number": build.number,
            "queueId": build.queue_id,
            "result": build.result,
            "timestamp": build.timestamp,
            "url": f"{self._job_url(job)}{build.number}/",
        }


def _parameters_action(parameters: Mapping[str, str]) -> dict[str, Any]:
    return {
        "_class": "hudson.model.ParametersAction",
        "parameters": [
            {"_class": "hudson.model.StringParameterValue", "name": name, "value": value}
            for name, value in parameters.items()
        ],
    }


def _quiet_period(delay: str | None) -> float:
    """Jenkins' TimeDuration: ``10sec``, ``2min``; a bare number is milliseconds."""
    if not delay:
        return 5.0
    units = (("ms", 0.001), ("secs", 1.0), ("sec", 1.0), ("mins", 60.0), ("min", 60.0))
    for suffix, factor in units:
        if delay.endswith(suffix) and delay[: -len(suffix)].strip().isdigit():
            return int(delay[: -len(suffix)]) * factor
    return int(delay) / 1000 if delay.isdigit() else 5.0


def _now_ms() -> int:
    return int(time.time() * 1000)

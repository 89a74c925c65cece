"""A fake GitHub REST API for Actions dispatches, runs and rate limits.

>>> with FakeGitHub(token="ghp_test", base_path="/api/v3") as github:   # "" for api.github.com
...     github.add_workflow("acme", "models", "retrain.yml", inputs=["model", "dispatch_id"],
...                         run_name="retrain {model} {dispatch_id}")
...     ...  # POST {github.url}/repos/acme/models/actions/workflows/retrain.yml/dispatches
...     github.runs                             # one Run per accepted workflow_dispatch
...     github.repository_dispatches            # (event_type, client_payload) accepted
...     github.primary_rate_limit(reset_in=30)  # next request: 403, remaining 0, reset in 30 s
...     github.secondary_rate_limit(status=429, retry_after=7)   # retry_after=None: no header
...     github.finish_run(run_id, "success")
...     github.lifecycle = Lifecycle(start_after=0.1, run_for=0.5, result="success")  # all runs
...     github.plan("drb-7", Lifecycle(start_after=0, run_for=2, result="failure"))  # one run
...     github.rate_limit = 100                 # requests per window before 403 remaining 0
...     github.counted, github.not_modified     # requests counted against it; 304s (free)

Faithful points (see ``../shared/API-NOTES.md``): ``Authorization: Bearer`` checked (401
"Requires authentication" / "Bad credentials"; a ``read_only_token`` gets 403 "Resource not
accessible"); 404 for an unknown repository or workflow; workflow_dispatch answers 204, or 200
``{workflow_run_id, run_url, html_url}`` with ``return_run_details: true`` unless
``supports_run_details=False`` (older GHES: 422 ``"return_run_details" is not a permitted key``);
422 for an unknown ref, more than 25 inputs, inputs whose compact JSON exceeds 65,535 characters
("inputs are too large."), inputs the workflow does not declare (when ``inputs`` is given) and
missing required ones; repository_dispatch answers 204 and checks ``event_type`` (1-100
characters) and ``client_payload`` (at most 10 top-level keys). Every response carries
``x-ratelimit-limit/-remaining/-used/-reset/-resource``; errors are ``{"message",
"documentation_url", "status"}``. ``GET .../actions/runs/{id}`` and ``GET
.../actions/workflows/{wf}/runs?event=...&created=>=T`` list runs with ``display_title``.
Fault injection and ``received``: see :mod:`tests.support.fakes.server`.

Runs (API-NOTES "Following a retraining to its end"): ``queued`` -> ``in_progress`` (with
``run_started_at``) -> ``completed`` with a ``conclusion``, as the run's lifecycle says or by hand
(``start_run``, ``finish_run``, ``rerun`` for a new ``run_attempt``). Run and run-list answers
carry an ``ETag``; ``If-None-Match`` with it answers ``304`` with no body and is not counted
against the rate limit. Counted requests beyond ``rate_limit`` in the window get the primary rate
limit (403, ``x-ratelimit-remaining: 0``) until ``x-ratelimit-reset``. The run list filters on
``event``, ``status``, ``created`` and pages with ``per_page`` (at most 100) and ``page``.
"""

import hashlib
import json
import operator
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Response, request

from tests.support.fakes.lifecycle import Lifecycle, Plans
from tests.support.fakes.server import FakeServer

RATE_LIMIT = 5000
MAX_INPUTS = 25
MAX_INPUTS_JSON = 65_535
DOCS = "https://docs.github.com/rest/actions/workflows#create-a-workflow-dispatch-event"


@dataclass
class Workflow:
    """A workflow file with a ``workflow_dispatch`` trigger (unless ``dispatchable`` is False)."""

    id: int
    path: str
    name: str
    # Declared inputs (None: accept any); required ones must be given.
    inputs: list[str] | None
    required: list[str]
    run_name: str | None
    dispatchable: bool = True


@dataclass
class Repository:
    """A repository with its refs and workflows."""

    owner: str
    name: str
    refs: set[str]
    workflows: dict[str, Workflow] = field(default_factory=dict)


@dataclass
class Run:
    """A workflow run created by a dispatch."""

    id: int
    repository: Repository
    workflow: Workflow
    ref: str
    inputs: dict[str, str]
    display_title: str
    created_at: datetime
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    event: str = "workflow_dispatch"
    status: str = "queued"
    conclusion: str | None = None
    run_attempt: int = 1
    # When the current attempt was queued, started and last changed.
    queued_at: float = field(default_factory=time.time)
    started_at: float | None = None
    updated_at: float = field(default_factory=time.time)


class FakeGitHub(FakeServer):
    """GitHub's Actions dispatch API with tokens, input limits, run details and rate limits."""

    def __init__(
        self,
        token: str = "ghp_fake",
        base_path: str = "",
        supports_run_details: bool = True,
        read_only_token: str | None = None,
    ) -> None:
        super().__init__("fake-github", base_path)
        self.token = token
        self.read_only_token = read_only_token
        self.supports_run_details = supports_run_details
        self.repositories: dict[tuple[str, str], Repository] = {}
        self.runs: list[Run] = []
        self.repository_dispatches: list[tuple[str, dict[str, Any]]] = []
        self._used = 0
        self._reset = int(time.time()) + 3600
        self._state = threading.RLock()
        self.plans = Plans()
        # Requests allowed per window (GitHub: 5,000 an hour for a token).
        self.rate_limit = RATE_LIMIT
        self.rate_window = 3600.0
        # Requests counted against the limit, and conditional requests answered 304 (free).
        self.counted = 0
        self.not_modified = 0
        self._next_id = 1000
        prefix = self.prefix
        repo = prefix + "/repos/<owner>/<repo>"
        self.app.add_url_rule(
            f"{repo}/actions/workflows/<workflow>/dispatches",
            "workflow_dispatch",
            self._workflow_dispatch,
            methods=["POST"],
        )
        self.app.add_url_rule(
            f"{repo}/dispatches", "repository_dispatch", self._repository_dispatch, methods=["POST"]
        )
        self.app.add_url_rule(f"{repo}/actions/runs/<int:run_id>", "run", self._run)
        self.app.add_url_rule(
            f"{repo}/actions/workflows/<workflow>/runs", "workflow_runs", self._workflow_runs
        )
        self.app.register_error_handler(404, lambda _: self.error_response(404, "Not Found"))
        self.app.register_error_handler(405, lambda _: self.error_response(404, "Not Found"))
        self.app.before_request(self._rate_limited)
        self.app.after_request(self._rate_limit_headers)

    # -- setup -------------------------------------------------------------------------------

    def add_repository(self, owner: str, name: str, refs: Sequence[str] = ("main",)) -> Repository:
        """A repository with branches/tags ``refs``."""
        repository = Repository(owner, name, set(refs))
        self.repositories[(owner, name)] = repository
        return repository

    def add_workflow(
        self,
        owner: str,
        repo: str,
        file: str,
        inputs: Sequence[str] | None = None,
        required: Sequence[str] = (),
        run_name: str | None = None,
        refs: Sequence[str] = ("main",),
        dispatchable: bool = True,
    ) -> Workflow:
        """A workflow ``.github/workflows/<file>``; ``run_name`` is formatted with the inputs."""
        repository = self.repositories.get((owner, repo)) or self.add_repository(owner, repo, refs)
        self._next_id += 1
        workflow = Workflow(
            id=self._next_id,
            path=f".github/workflows/{file}",
            name=file.rsplit(".", 1)[0],
            inputs=None if inputs is None else list(inputs),
            required=list(required),
            run_name=run_name,
            dispatchable=dispatchable,
        )
        repository.workflows[file] = workflow
        return workflow

    def primary_rate_limit(self, count: int = 1, reset_in: float = 60.0, status: int = 403) -> None:
        """The next ``count`` requests exceed the primary limit: remaining 0 until the reset."""
        reset = int(time.time() + reset_in)
        body = _error_body(status, "API rate limit exceeded for user ID 1.", "rate-limits")
        self.fail_next(
            count,
            status,
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset), **_JSON},
            body,
        )

    def secondary_rate_limit(
        self, count: int = 1, status: int = 403, retry_after: int | None = None
    ) -> None:
        """The next ``count`` requests hit a secondary limit, with ``retry-after`` if given."""
        message = (
            "You have exceeded a secondary rate limit. Please wait a few minutes before you "
            "try again."
        )
        headers = dict(_JSON)
        if retry_after is not None:
            headers["retry-after"] = str(retry_after)
        self.fail_next(count, status, headers, _error_body(status, message, "rate-limits"))

    @property
    def lifecycle(self) -> Lifecycle:
        """How every run without a plan of its own proceeds."""
        return self.plans.default

    @lifecycle.setter
    def lifecycle(self, lifecycle: Lifecycle) -> None:
        self.plans.default = lifecycle

    def plan(self, value: str, lifecycle: Lifecycle) -> None:
        """Runs dispatched with an input whose value is ``value`` follow ``lifecycle``."""
        self.plans.plan(value, lifecycle)

    def run(self, run_id: int) -> Run:
        """The run ``run_id``, brought up to date."""
        with self._state:
            self._advance()
            return next(run for run in self.runs if run.id == run_id)

    def start_run(self, run_id: int) -> None:
        """A queued run starts (in_progress)."""
        with self._state:
            run = next(run for run in self.runs if run.id == run_id)
            now = time.time()
            run.status, run.started_at, run.updated_at = "in_progress", now, now

    def finish_run(self, run_id: int, conclusion: str = "success") -> None:
        """Complete a run with ``conclusion``."""
        with self._state:
            run = next(run for run in self.runs if run.id == run_id)
            now = time.time()
            run.status, run.conclusion, run.updated_at = "completed", conclusion, now
            run.started_at = run.started_at or now

    def rerun(self, run_id: int) -> None:
        """Re-run a completed run: the next ``run_attempt``, queued again."""
        with self._state:
            run = next(run for run in self.runs if run.id == run_id)
            now = time.time()
            run.run_attempt += 1
            run.status, run.conclusion, run.started_at = "queued", None, None
            run.queued_at = run.updated_at = now

    def _advance(self) -> None:
        """Bring every run to where its lifecycle says it is now."""
        now = time.time()
        for run in self.runs:
            plan = run.lifecycle
            if run.status == "queued" and plan.starts(run.queued_at, now):
                if plan.cancel:
                    run.status, run.conclusion, run.updated_at = "completed", "cancelled", now
                    continue
                run.started_at = run.queued_at + (plan.start_after or 0.0)
                run.status, run.updated_at = "in_progress", run.started_at
            started = run.started_at
            if run.status == "in_progress" and started and plan.finishes(started, now):
                run.status, run.conclusion = "completed", plan.result or "success"
                run.updated_at = started + (plan.run_for or 0.0)

    # -- responses ---------------------------------------------------------------------------

    def error_response(self, status: int, message: str) -> Response:
        """GitHub's JSON error body."""
        return Response(_error_body(status, message), status=status, mimetype="application/json")

    def _json(self, body: Any, status: int = 200) -> Response:
        return Response(json.dumps(body), status=status, mimetype="application/json")

    def _rate_limited(self) -> Response | None:
        """The primary limit once this window's requests are used up (checked before handling)."""
        with self._state:
            if time.time() >= self._reset:
                self._used, self._reset = 0, int(time.time() + self.rate_window)
            if self._used < self.rate_limit:
                return None
        response = Response(
            _error_body(403, "API rate limit exceeded for user ID 1.", "rate-limits"),
            status=403,
            mimetype="application/json",
        )
        response.headers["x-ratelimit-remaining"] = "0"
        return response

    def _rate_limit_headers(self, response: Response) -> Response:
        with self._state:
            if response.status_code == 304:
                self.not_modified += 1
            elif response.headers.get("x-ratelimit-remaining") != "0":
                self._used += 1
                self.counted += 1
            used = self._used
            limit = self.rate_limit
        defaults = {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(max(0, limit - used)),
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(self._reset),
            "x-ratelimit-resource": "core",
            "x-github-api-version-selected": "2022-11-28",
        }
        for name, value in defaults.items():
            response.headers.setdefault(name, value)
        return response

    def _authorize(self, repository: Repository | None, write: bool) -> Response | None:
        header = request.headers.get("Authorization", "")
        if not header:
            return self.error_response(401, "Requires authentication")
        scheme, _, token = header.partition(" ")
        valid = {self.token, self.read_only_token} - {None}
        if scheme.lower() not in ("bearer", "token") or token not in valid:
            return self.error_response(401, "Bad credentials")
        if repository is None:
            return self.error_response(404, "Not Found")
        if write and token == self.read_only_token:
            return self.error_response(403, "Resource not accessible by personal access token")
        return None

    def _body(self) -> dict[str, Any] | Response:
        try:
            body = json.loads(request.get_data(as_text=True) or "null")
        except ValueError:
            return self.error_response(400, "Problems parsing JSON")
        if not isinstance(body, dict):
            return self.error_response(400, "Problems parsing JSON")
        return body

    def _find_workflow(self, repository: Repository, key: str) -> Workflow | None:
        if key in repository.workflows:
            return repository.workflows[key]
        return next((w for w in repository.workflows.values() if str(w.id) == key), None)

    # -- endpoints ---------------------------------------------------------------------------

    def _workflow_dispatch(self, owner: str, repo: str, workflow: str) -> Response:
        repository = self.repositories.get((owner, repo))
        denied = self._authorize(repository, write=True)
        if denied is not None:
            return denied
        assert repository is not None
        found = self._find_workflow(repository, workflow)
        if found is None:
            return self.error_response(404, "Not Found")
        body = self._body()
        if isinstance(body, Response):
            return body
        allowed = {"ref", "inputs"} | (
            {"return_run_details"} if self.supports_run_details else set()
        )
        for key in body:
            if key not in allowed:
                return self._invalid(f'"{key}" is not a permitted key.')
        ref, inputs = body.get("ref"), body.get("inputs", {})
        if not isinstance(ref, str) or not ref:
            return self._invalid('"ref" wasn\'t supplied.')
        if not isinstance(inputs, dict):
            return self._invalid(f"For 'properties/inputs', {json.dumps(inputs)} is not an object.")
        problem = self._check_inputs(found, inputs)
        if problem:
            return self.error_response(422, problem)
        if ref.removeprefix("refs/heads/").removeprefix("refs/tags/") not in repository.refs:
            return self.error_response(422, f"No ref found for: {ref}")
        if not found.dispatchable:
            return self.error_response(422, "Workflow does not have 'workflow_dispatch' trigger")
        with self._state:
            self._next_id += 1
            run_id = self._next_id
        title = found.run_name.format_map(_Inputs(inputs)) if found.run_name else found.name
        run = Run(
            run_id,
            repository,
            found,
            ref,
            dict(inputs),
            title,
            datetime.now(UTC),
            self.plans.for_values(tuple(str(v) for v in inputs.values())),
        )
        with self._state:
            self.runs.append(run)
        if body.get("return_run_details") is True:
            return self._json(
                {
                    "workflow_run_id": run.id,
                    "run_url": self._run_api_url(run),
                    "html_url": f"{self.root}/{owner}/{repo}/actions/runs/{run.id}",
                }
            )
        return Response(status=204)

    def _check_inputs(self, workflow: Workflow, inputs: Mapping[str, Any]) -> str | None:
        if len(inputs) > MAX_INPUTS:
            return (
                f"you may only define up to {MAX_INPUTS} `inputs` for a `workflow_dispatch` event"
            )
        if len(json.dumps(inputs, separators=(",", ":"), ensure_ascii=False)) > MAX_INPUTS_JSON:
            return "inputs are too large."
        if workflow.inputs is not None:
            unexpected = [name for name in inputs if name not in workflow.inputs]
            if unexpected:
                return f"Unexpected inputs provided: {json.dumps(unexpected)}"
        for name in workflow.required:
            if name not in inputs:
                return f"Required input '{name}' not provided"
        not_strings = [name for name, value in inputs.items() if not isinstance(value, str)]
        if not_strings:
            return f"Invalid value for input '{not_strings[0]}': expected a string"
        return None

    def _repository_dispatch(self, owner: str, repo: str) -> Response:
        repository = self.repositories.get((owner, repo))
        denied = self._authorize(repository, write=True)
        if denied is not None:
            return denied
        body = self._body()
        if isinstance(body, Response):
            return body
        event_type = body.get("event_type")
        payload = body.get("client_payload", {})
        if not isinstance(event_type, str) or not event_type:
            return self._invalid('"event_type" wasn\'t supplied.')
        if len(event_type) > 100:
            return self._invalid("event_type is too long (maximum is 100 characters)")
        if not isinstance(payload, dict):
            return self._invalid("For 'properties/client_payload', it is not an object.")
        if len(payload) > 10:
            return self._invalid(
                f"No more than 10 properties are allowed; {len(payload)} were supplied."
            )
        self.repository_dispatches.append((event_type, payload))
        return Response(status=204)

    def _run(self, owner: str, repo: str, run_id: int) -> Response:
        repository = self.repositories.get((owner, repo))
        denied = self._authorize(repository, write=False)
        if denied is not None:
            return denied
        with self._state:
            self._advance()
            run = next(
                (r for r in self.runs if r.id == run_id and r.repository is repository), None
            )
            if run is None:
                return self.error_response(404, "Not Found")
            return self._conditional(self._run_json(run))

    def _workflow_runs(self, owner: str, repo: str, workflow: str) -> Response:
        repository = self.repositories.get((owner, repo))
        denied = self._authorize(repository, write=False)
        if denied is not None:
            return denied
        assert repository is not None
        found = self._find_workflow(repository, workflow)
        if found is None:
            return self.error_response(404, "Not Found")
        event = request.args.get("event")
        created = request.args.get("created")
        status = request.args.get("status")
        try:
            per_page = min(100, max(1, int(request.args.get("per_page", 30))))
            page = max(1, int(request.args.get("page", 1)))
        except ValueError:
            return self._invalid("per_page and page must be integers")
        with self._state:
            self._advance()
            runs = [
                run
                for run in self.runs
                if run.workflow is found
                and (event is None or run.event == event)
                and (status is None or status in (run.status, run.conclusion))
                and (created is None or _created_matches(run.created_at, created))
            ]
            runs.sort(key=lambda run: (run.created_at, run.id), reverse=True)
            shown = runs[(page - 1) * per_page : page * per_page]
            return self._conditional(
                {"total_count": len(runs), "workflow_runs": [self._run_json(r) for r in shown]}
            )

    def _conditional(self, body: Any) -> Response:
        """200 with an ETag, or 304 without a body when the client already has this version."""
        text = json.dumps(body)
        etag = f'W/"{hashlib.sha256(text.encode()).hexdigest()[:40]}"'
        if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
            response = Response(status=304)
        else:
            response = Response(text, status=200, mimetype="application/json")
        response.headers["ETag"] = etag
        return response

    def _run_api_url(self, run: Run) -> str:
        repository = run.repository
        return f"{self.url}/repos/{repository.owner}/{repository.name}/actions/runs/{run.id}"

    def _run_json(self, run: Run) -> dict[str, Any]:
        repository = run.repository
        created = run.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        started = _iso(run.started_at) if run.started_at is not None else created
        return {
            "id": run.id,
            "name": run.workflow.name,
            "display_title": run.display_title,
            "event": run.event,
            "status": run.status,
            "conclusion": run.conclusion,
            "workflow_id": run.workflow.id,
            "head_branch": run.ref,
            "path": run.workflow.path,
            "run_attempt": run.run_attempt,
            "created_at": created,
            "run_started_at": started,
            "updated_at": _iso(run.updated_at),
            "url": self._run_api_url(run),
            "html_url": f"{self.root}/{repository.owner}/{repository.name}/actions/runs/{run.id}",
        }

    def _invalid(self, detail: str) -> Response:
        return self.error_response(422, f"Invalid request.\n\n{detail}")


class _Inputs(dict[str, Any]):
    """``${{ inputs.x }}`` of an input that was not given renders empty."""

    def __missing__(self, key: str) -> str:
        return ""


_JSON = {"Content-Type": "application/json; charset=utf-8"}


def _error_body(status: int, message: str, docs: str = "") -> str:
    url = f"https://docs.github.com/rest/using-the-rest-api/{docs}" if docs else DOCS
    return json.dumps({"message": message, "documentation_url": url, "status": str(status)})


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _created_matches(created: datetime, query: str) -> bool:
    """GitHub's ``created`` qualifier: ``>=T``, ``>T``, ``<=T``, ``<T`` or ``A..B``."""

    def parse(text: str) -> datetime:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    created = created.replace(microsecond=0)
    if ".." in query:
        start, end = query.split("..", 1)
        return parse(start) <= created <= parse(end)
    for prefix, compare in (
        (">=", operator.ge),
        ("<=", operator.le),
        (">", operator.gt),
        ("<", operator.lt),
    ):
        if query.startswith(prefix):
            return bool(compare(created, parse(query[len(prefix) :])))
    return created.date() == parse(query).date()

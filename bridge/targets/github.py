"""GitHub Actions: ``workflow_dispatch`` (default) or ``repository_dispatch`` through the REST API.

Settings (``targets.<name>`` with ``type: github``):

======================  ============================================================================
``api_url``             default ``https://api.github.com``; GitHub Enterprise Server:
                        ``https://HOST/api/v3``
``owner``, ``repo``     the repository
``token_file|_env``     a fine-grained token or installation token (Actions: write; Contents: write
                        for repository_dispatch), sent as ``Authorization: Bearer``
``mode``                ``workflow_dispatch`` (default) or ``repository_dispatch``
``workflow``            workflow_dispatch: file name (``retrain.yml``) or numeric id
``ref``                 workflow_dispatch: branch or tag to run on (template allowed)
``dispatch_id_input``   workflow_dispatch: input carrying the dispatch id, default ``dispatch_id``;
                        use it in the workflow's ``run-name`` so runs can be found
``return_run_details``  workflow_dispatch: ask for the run id/URL (default true); a server that
                        rejects it (older GHES) is asked again without it, once, and then never
``event_type``          repository_dispatch: the event type, 1-100 characters (template allowed)
``timeout``             per request, default ``10s``
``tls_verify``          default ``true``
``ca_file``             CA bundle of a private CA (default: the system's)
======================  ============================================================================

workflow_dispatch inputs are the route's parameters plus the dispatch id: at most 25 strings whose
compact JSON is at most 65,535 characters, checked before anything is sent. repository_dispatch
sends ``client_payload: {"dispatch_id": ..., "parameters": {...}}`` (always two top-level keys, far
from GitHub's limit of 10; the workflow reads ``github.event.client_payload.parameters.NAME``).

Rate limits (403 or 429) are retryable: with ``x-ratelimit-remaining: 0`` until
``x-ratelimit-reset``, else after ``retry-after``, else after at least 60 s.
"""

import logging
import time
from collections.abc import Mapping
from enum import StrEnum
from typing import Any
from urllib.parse import quote

import requests

from bridge.config_reader import Reader
from bridge.credentials import Secret, read_secret
from bridge.targets.base import (
    DispatchError,
    DispatchResult,
    FailureReason,
    Job,
    Request,
    invalid,
    stored,
    with_dispatch_id,
)
from bridge.targets.http import (
    HttpSettings,
    check_response,
    read_base_url,
    read_http_settings,
    response_excerpt,
    response_message,
    retry_after_seconds,
    secret_value,
)
from bridge.targets.templates import compile_template, is_templated, render
from bridge.templating import Template
from common.canonical_json import canonical_json

log = logging.getLogger(__name__)

MAX_INPUTS = 25
MAX_INPUTS_JSON = 65_535
MAX_EVENT_TYPE = 100
# GitHub asks for "at least one minute" after a secondary rate limit without retry-after.
SECONDARY_LIMIT_WAIT = 60.0
HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
DEFAULT_API_URL = "https://api.github.com"
DEFAULT_DISPATCH_ID_INPUT = "dispatch_id"


class Mode(StrEnum):
    """Which GitHub API starts the workflow (``mode``)."""

    WORKFLOW_DISPATCH = "workflow_dispatch"
    REPOSITORY_DISPATCH = "repository_dispatch"


class GitHubTarget:
    """Dispatches a GitHub Actions workflow.

    >>> target.send(target.prepare(job)).details
    {'workflow_run_id': 123, 'run_url': '...', 'html_url': '...'}
    """

    type = "github"

    def __init__(
        self,
        name: str,
        api_url: str,
        owner: str,
        repo: str,
        token: Secret,
        http: HttpSettings,
        mode: Mode = Mode.WORKFLOW_DISPATCH,
        workflow: str = "",
        ref: Template | None = None,
        dispatch_id_input: str = DEFAULT_DISPATCH_ID_INPUT,
        return_run_details: bool = True,
        event_type: Template | None = None,
    ) -> None:
        self.name = name
        self.api_url = api_url
        self.owner = owner
        self.repo = repo
        self.token = token
        self.http = http
        self.mode = mode
        self.workflow = workflow
        self.ref = ref
        self.dispatch_id_input = dispatch_id_input
        self.return_run_details = return_run_details
        self.event_type = event_type
        # Learnt from the server's answer; kept for the life of this target.
        self.run_details_supported: bool | None = None

    def _repo_url(self) -> str:
        return f"{self.api_url}/repos/{quote(self.owner, safe='')}/{quote(self.repo, safe='')}"

    def prepare(self, job: Job) -> Request:
        """The dispatch request for ``job``; the input limits are checked here."""
        if self.mode == Mode.REPOSITORY_DISPATCH:
            return self._prepare_repository_dispatch(job)
        assert self.ref is not None
        ref = render(self.ref, job.variables)
        if not ref:
            raise invalid(f"{self.ref.where}: rendered empty; a ref is required")
        inputs = with_dispatch_id(
            job.parameters, self.dispatch_id_input, job.dispatch_id, "dispatch_id_input"
        )
        _check_inputs(inputs)
        body: dict[str, Any] = {"ref": ref, "inputs": inputs}
        if self.return_run_details:
            body["return_run_details"] = True
        workflow = quote(self.workflow, safe="")
        return {
            "method": "POST",
            "url": f"{self._repo_url()}/actions/workflows/{workflow}/dispatches",
            "headers": dict(HEADERS),
            "json": body,
        }

    def _prepare_repository_dispatch(self, job: Job) -> Request:
        assert self.event_type is not None
        event_type = render(self.event_type, job.variables)
        if not 1 <= len(event_type) <= MAX_EVENT_TYPE:
            raise invalid(
                f"{self.event_type.where}: GitHub's event_type must be 1-{MAX_EVENT_TYPE} "
                f"characters; this one has {len(event_type)}"
            )
        payload = {"dispatch_id": job.dispatch_id, "parameters": dict(job.parameters)}
        return {
            "method": "POST",
            "url": f"{self._repo_url()}/dispatches",
            "headers": dict(HEADERS),
            "json": {"event_type": event_type, "client_payload": payload},
        }

    def interrupt(self) -> None:
        """Nothing to end: an HTTP attempt finishes within its timeout."""

    def send(self, request: Request) -> DispatchResult:
        """POST the dispatch; without run details once if the server rejects them."""
        url = stored(request, "url", str)
        body = dict(stored(request, "json", dict))
        asks_details = body.get("return_run_details") is True
        if asks_details and self.run_details_supported is False:
            body.pop("return_run_details")
            asks_details = False
        headers = {str(k): str(v) for k, v in (request.get("headers") or HEADERS).items()}
        headers["Authorization"] = f"Bearer {secret_value(self.token, f'GitHub {self.name}')}"
        what = f"GitHub {self.name} {self.mode}"
        with self.http.session() as session:
            response = self.http.request(session, "POST", url, what, json=body, headers=headers)
            if asks_details and response.status_code in (400, 422):
                # Protocol fallback, not a retry: older servers do not know the field.
                log.info(
                    "dispatch %s: GitHub %s rejected return_run_details (HTTP %s: %s); "
                    "sending without it",
                    body.get("inputs", {}).get(self.dispatch_id_input),
                    self.name,
                    response.status_code,
                    response_message(response),
                )
                body.pop("return_run_details")
                response = self.http.request(session, "POST", url, what, json=body, headers=headers)
                if 200 <= response.status_code < 300:
                    self.run_details_supported = False
        _check_rate_limit(response, what)
        check_response(response, what)
        return self._result(response, body)

    def _result(self, response: requests.Response, body: Mapping[str, Any]) -> DispatchResult:
        if "event_type" in body:
            return DispatchResult(
                f"repository_dispatch {body.get('event_type')!r} sent to {self.owner}/{self.repo}",
                status=response.status_code,
            )
        where = f"workflow {self.workflow} dispatched on {body.get('ref')}"
        details: dict[str, Any] = {}
        if response.status_code == 200:
            self.run_details_supported = True
            try:
                answer = response.json()
            except ValueError:
                answer = {}
            if isinstance(answer, Mapping):
                details = {
                    key: answer[key]
                    for key in ("workflow_run_id", "run_url", "html_url")
                    if key in answer
                }
        summary = where
        if "html_url" in details:
            summary += f" (run {details['html_url']})"
        return DispatchResult(summary, details, status=response.status_code)


def _check_inputs(inputs: Mapping[str, Any]) -> None:
    """GitHub's limits on workflow_dispatch inputs, checked before sending."""
    if len(inputs) > MAX_INPUTS:
        raise invalid(
            f"GitHub allows at most {MAX_INPUTS} workflow_dispatch inputs; this dispatch has "
            f"{len(inputs)} (the route's parameters plus the dispatch id)"
        )
    not_strings = sorted(name for name, value in inputs.items() if not isinstance(value, str))
    if not_strings:
        raise invalid(f"workflow_dispatch inputs must be strings: {', '.join(not_strings)}")
    # As GitHub measures it: compact, characters not escaped.
    size = len(canonical_json(inputs, ascii_only=False))
    if size > MAX_INPUTS_JSON:
        raise invalid(
            f"GitHub allows at most {MAX_INPUTS_JSON:,} characters of workflow_dispatch inputs "
            f"(as compact JSON); this dispatch has {size:,}"
        )


def _check_rate_limit(response: requests.Response, what: str) -> None:
    """Raise a retryable RATE_LIMITED error if a 403/429 is one of GitHub's rate limits."""
    if response.status_code not in (403, 429):
        return
    headers = response.headers
    message = response_message(response)
    retry_after: float | None = None
    if (
        headers.get("x-ratelimit-remaining") == "0"
        and headers.get("x-ratelimit-reset", "").isdigit()
    ):
        retry_after = max(0.0, float(headers["x-ratelimit-reset"]) - time.time())
        kind = "primary rate limit"
    elif (seconds := retry_after_seconds(headers)) is not None:
        retry_after = seconds
        kind = "secondary rate limit"
    elif response.status_code == 429 or "rate limit" in message.lower():
        retry_after = SECONDARY_LIMIT_WAIT
        kind = "secondary rate limit"
    else:
        return  # a 403 for lack of permission
    raise DispatchError(
        f"{what}: HTTP {response.status_code}: {kind}, retry in {retry_after:.0f}s: {message}",
        retryable=True,
        reason=FailureReason.RATE_LIMITED,
        status=response.status_code,
        retry_after=retry_after,
        response=response_excerpt(response),
    )


def from_config(name: str, reader: Reader) -> GitHubTarget | None:
    """Read and check a ``type: github`` target."""
    problems = len(reader.problems)
    api_url = read_base_url(reader, "api_url", DEFAULT_API_URL)
    owner = reader.string("owner")
    repo = reader.string("repo")
    token = read_secret(reader, "token")
    mode = Mode(reader.string("mode", Mode.WORKFLOW_DISPATCH, choices=list(Mode)))
    only = {
        Mode.WORKFLOW_DISPATCH: ("workflow", "ref", "dispatch_id_input", "return_run_details"),
        Mode.REPOSITORY_DISPATCH: ("event_type",),
    }
    for other_mode, keys in only.items():
        if other_mode != mode:
            for key in keys:
                if reader.has(key):
                    reader.problem(key, f"only applies to mode {other_mode}")
    workflow, ref, event_type = "", None, None
    dispatch_id_input, return_run_details = DEFAULT_DISPATCH_ID_INPUT, True
    if mode == Mode.WORKFLOW_DISPATCH:
        workflow = reader.string("workflow")
        ref_source = reader.string("ref")
        if isinstance(ref_source, str) and ref_source:
            ref = compile_template(reader, "ref", ref_source)
        dispatch_id_input = reader.string("dispatch_id_input", DEFAULT_DISPATCH_ID_INPUT)
        if dispatch_id_input == "":
            reader.problem("dispatch_id_input", "must not be empty")
        return_run_details = reader.boolean("return_run_details", True)
    elif mode == Mode.REPOSITORY_DISPATCH:
        source = reader.string("event_type")
        if isinstance(source, str) and source:
            if not is_templated(source) and len(source) > MAX_EVENT_TYPE:
                reader.problem("event_type", f"must be at most {MAX_EVENT_TYPE} characters")
            event_type = compile_template(reader, "event_type", source)
    http = read_http_settings(reader)
    reader.reject_unknown()
    if len(reader.problems) > problems or api_url is None or token is None:
        return None
    return GitHubTarget(
        name,
        api_url,
        owner,
        repo,
        token,
        http,
        mode=mode,
        workflow=workflow,
        ref=ref,
        dispatch_id_input=dispatch_id_input,
        return_run_details=return_run_details,
        event_type=event_type,
    )

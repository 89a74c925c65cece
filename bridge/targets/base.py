"""The one interface every target implements, and the one error type they raise.

Targets never sleep or retry: ``send`` makes exactly one attempt and either returns a
:class:`DispatchResult` or raises :class:`DispatchError` saying whether a retry could succeed.
The dispatcher (``bridge.dispatcher``) owns backoff, deadlines and dead letters.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, TypeVar

# A JSON-able description of exactly what ``send`` will do, without any secret: recorded in the
# audit trail, shown by dry runs and by ``drift-bridge replay``.
Request = dict[str, Any]

T = TypeVar("T")


class FailureReason(StrEnum):
    """Why an attempt failed; a small fixed set, usable as a metric label."""

    CLIENT_ERROR = "client_error"
    AUTH_ERROR = "auth_error"
    SERVER_ERROR = "server_error"
    RATE_LIMITED = "rate_limited"
    TIMEOUT = "timeout"
    CONNECTION = "connection_error"
    COMMAND_FAILED = "command_failed"
    INVALID_REQUEST = "invalid_request"
    INTERRUPTED = "interrupted"  # the bridge stopped during the attempt
    INTERNAL_ERROR = "internal_error"  # a bug in the bridge or a target: retried, and logged


class DispatchError(Exception):
    """One attempt failed. ``retryable`` says whether trying again later could succeed."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        reason: FailureReason,
        status: int | None = None,
        retry_after: float | None = None,
        response: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.reason = reason
        self.status = status
        # Seconds the target asked us to wait (Retry-After, rate-limit reset), if it said.
        self.retry_after = retry_after
        # An excerpt of the target's response body, for the audit trail.
        self.response = response


@dataclass(frozen=True)
class Job:
    """What a route asks of a target for one dispatch."""

    dispatch_id: str
    # The route's parameters, already rendered from the alert.
    parameters: Mapping[str, str]
    # The template variables (labels, annotations, dispatch_id, ...), for target-level templates.
    variables: Mapping[str, Any]


@dataclass(frozen=True)
class DispatchResult:
    """A successful attempt: a one-line summary and what the target told us (queue item, run)."""

    summary: str
    details: Mapping[str, Any] = field(default_factory=dict)
    status: int | None = None


class Target(Protocol):
    """A place retraining is dispatched to: Jenkins, GitHub Actions, a command, a webhook."""

    name: str
    type: str

    def prepare(self, job: Job) -> Request:
        """Describe the request for ``job``; DispatchError(INVALID_REQUEST) if it cannot be sent."""
        ...

    def send(self, request: Request) -> DispatchResult:
        """Make one attempt at what ``prepare`` described."""
        ...

    def interrupt(self) -> None:
        """End attempts still running because the bridge stops; they raise INTERRUPTED.

        HTTP targets have nothing to do: their attempts end within their timeout.
        """
        ...


def invalid(message: str) -> DispatchError:
    """The error for a dispatch that can never be sent as built."""
    return DispatchError(message, retryable=False, reason=FailureReason.INVALID_REQUEST)


def stored(request: Request, key: str, kind: type[T]) -> T:
    """``request[key]`` checked to be a ``kind``: a stored request may predate this version."""
    value = request.get(key)
    if not isinstance(value, kind):
        raise invalid(f"stored request has no valid {key!r}; prepare the dispatch again")
    return value


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

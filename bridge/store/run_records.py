"""What the store holds about retraining runs: records shared by every store implementation."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class NewRun:
    """A run to follow, recorded with the attempt that started (or adopted) it."""

    # How the target finds the run; None: the target cannot look, the job reports its result.
    locator: dict[str, Any] | None
    timeout_at: float
    verify_within: float
    adopted: bool = False


@dataclass(frozen=True)
class FollowedRun:
    """A run leased for one look by one follower."""

    dispatch_id: str
    route: str
    target: str
    state: str
    locator: dict[str, Any]
    etag: str | None
    errors: int  # consecutive failed looks, for backoff
    created_at: float
    timeout_at: float
    fingerprint: str


@dataclass(frozen=True)
class RunUpdate:
    """What one look at a run showed (or why the look failed), and when to look again."""

    dispatch_id: str
    now: float
    next_poll_at: float | None
    state: str | None = None  # None: unchanged (a 304, or a failed look)
    locator: dict[str, Any] | None = None
    result: str | None = None
    detail: str | None = None
    url: str | None = None
    external_id: str | None = None
    run_attempt: int | None = None
    started_at: float | None = None
    finished_at: float | None = None
    duration: float | None = None
    etag: str | None = None
    error: str | None = None  # the look failed: the message


@dataclass(frozen=True)
class FailedRun:
    """A failed retraining whose episode still fires: a candidate for the route's on_failure."""

    dispatch_id: str
    route: str
    episode_id: int
    context: dict[str, Any]  # the dispatch's template variables
    redispatches: int  # made for this episode so far


@dataclass(frozen=True)
class ReportedResult:
    """A result the job reported itself (``POST /api/dispatches/<id>/result``)."""

    dispatch_id: str
    result: str
    model_version: str | None
    url: str | None
    now: float
    # The route's, for a run the bridge did not follow (it learns of it from this report).
    verify_within: float

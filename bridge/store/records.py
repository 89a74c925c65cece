"""What the store holds, as plain records shared by every store implementation."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class DispatchState(StrEnum):
    """Where a dispatch is in its life."""

    PENDING = "pending"  # waiting for its (next) attempt
    SENDING = "sending"  # an attempt is under way, leased by one worker
    SUCCEEDED = "succeeded"
    DEAD = "dead"  # gave up: a permanent error or the deadline; can be retried by hand
    DRY_RUN = "dry_run"  # recorded with its request, never sent


class AttemptOutcome(StrEnum):
    """How one attempt ended (stored, shown by the audit API, the ``outcome`` metric label)."""

    SUCCESS = "success"
    # Failed, to be tried again after a backoff. The value predates the word "backoff" and is
    # kept: it is stored, exported and documented.
    TRY_AGAIN = "retry"
    FAILED = "failed"  # a permanent error or the deadline: dead-lettered
    DRY_RUN = "dry_run"  # dry run turned on after the dispatch was created: recorded, not sent


class Decision(StrEnum):
    """What the bridge decided about one alert of one notification."""

    NEW_EPISODE = "new_episode"  # first firing notification of an episode: dispatched
    DUPLICATE = "duplicate"  # a resend, a repeat or an HA duplicate: nothing to do
    COOLDOWN_SKIPPED = "cooldown_skipped"  # new episode inside the route's cooldown
    RESOLVED = "resolved"  # closes its episode
    RESOLVED_DUPLICATE = "resolved_duplicate"  # a resend of a resolution
    RESOLVED_UNKNOWN = "resolved_unknown"  # resolution of an episode never seen firing
    NO_ROUTE = "no_route"  # no route matches the alert's labels


@dataclass(frozen=True)
class EpisodeKey:
    """One firing episode of one alert on one route."""

    route: str
    fingerprint: str
    starts_at: str  # canonical RFC 3339, nanoseconds


@dataclass(frozen=True)
class Episode:
    """An episode as stored."""

    id: int
    key: EpisodeKey
    state: str  # firing | resolved
    outcome: str  # dispatched | dry_run | cooldown_skipped | invalid | resolved_before_firing
    dispatch_id: str | None


@dataclass(frozen=True)
class NewEpisode:
    """An episode to record, with what was decided for it."""

    key: EpisodeKey
    labels: dict[str, str]
    cooldown_key: str
    state: str  # firing | resolved
    outcome: str
    dispatch_id: str | None
    notification_id: int
    opened_at: float
    resolved_at: float | None = None
    ends_at: str | None = None


@dataclass(frozen=True)
class NewDispatch:
    """A dispatch to record in the outbox."""

    id: str
    episode_id: int
    kind: str  # firing | resolved
    route: str
    target: str
    target_type: str
    state: DispatchState
    # As JSON text, encoded by the caller before the write transaction starts (it is the
    # costly part of recording a dispatch, and nothing else waits for it there).
    context_json: str  # the template variables, to render again on a manual retry
    request_json: str | None  # what will be sent (no secrets); None if it could not be built
    error: str | None
    reason: str | None
    created_at: float
    deadline_at: float


@dataclass(frozen=True)
class ClaimedDispatch:
    """A dispatch a worker has leased for one attempt."""

    id: str
    route: str
    target: str
    target_type: str  # the type the request was built for
    request: dict[str, Any]
    attempt: int  # the number of this attempt, from 1
    # Attempts made before the dispatch was last retried by hand: backoff starts over after it.
    retry_from: int
    created_at: float
    deadline_at: float
    fingerprint: str


@dataclass(frozen=True)
class Requeue:
    """A dead dispatch sent again, with the target and request the current config gives."""

    dispatch_id: str
    target: str
    target_type: str
    request: dict[str, Any] | None  # None: it still cannot be built (``error`` says why)
    error: str | None
    now: float
    deadline_at: float


@dataclass(frozen=True)
class AttemptRecord:
    """The result of one attempt, to record with the dispatch's new state."""

    dispatch_id: str
    attempt: int
    started_at: float
    finished_at: float
    outcome: str  # success | retry | failed
    reason: str | None
    status: int | None
    message: str
    response: str | None
    details: dict[str, Any] | None
    next_attempt_at: float | None  # for outcome retry

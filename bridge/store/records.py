"""What the store holds, as plain records shared by every store implementation.

Writes take ``New*`` records; reads return typed records (:class:`DispatchSummary`,
:class:`DispatchTrail`, ...), never dicts: JSON is made at the edge (``bridge.web.audit``).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bridge.payload import AlertStatus


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


class EpisodeOutcome(StrEnum):
    """What became of an episode when it was first seen."""

    DISPATCHED = "dispatched"
    DRY_RUN = "dry_run"
    COOLDOWN_SKIPPED = "cooldown_skipped"
    INVALID = "invalid"  # its request could not be built: the dispatch is dead at once
    RESOLVED_BEFORE_FIRING = "resolved_before_firing"


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
    state: AlertStatus
    outcome: EpisodeOutcome
    dispatch_id: str | None


@dataclass(frozen=True)
class NewEpisode:
    """An episode to record, with what was decided for it."""

    key: EpisodeKey
    labels: dict[str, str]
    cooldown_key: str
    state: AlertStatus
    outcome: EpisodeOutcome
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
    kind: AlertStatus  # the alert status that caused it
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
    outcome: AttemptOutcome
    reason: str | None  # a FailureReason (bridge.targets.base), or None on success
    status: int | None
    message: str
    response: str | None
    details: dict[str, Any] | None
    next_attempt_at: float | None  # for outcome retry


@dataclass(frozen=True)
class NewDecision:
    """What was decided about one alert of one notification, to record."""

    notification_id: int
    alert_index: int
    fingerprint: str
    starts_at: str
    alert_status: str
    route: str | None
    decision: Decision
    reason: str
    episode_id: int | None
    dispatch_id: str | None
    decided_at: float


# -- what the audit API and the CLI read -----------------------------------------------------


@dataclass(frozen=True)
class RequeueSource:
    """What a dead dispatch was built from, to build it again from the current config."""

    id: str
    route: str
    target: str
    state: DispatchState
    kind: AlertStatus
    context: dict[str, Any]  # the template variables it was rendered with


@dataclass(frozen=True)
class DispatchSummary:
    """A dispatch with its alert's identity: one line of the audit listing."""

    id: str
    kind: AlertStatus
    state: DispatchState
    route: str
    target: str
    target_type: str
    created_at: float
    completed_at: float | None
    attempt_count: int
    next_attempt_at: float | None
    last_error: str | None
    last_reason: str | None
    result: Any  # what the target answered on success (JSON), if anything
    fingerprint: str
    starts_at: str
    labels: Mapping[str, str]
    episode_state: AlertStatus


@dataclass(frozen=True)
class EpisodeView:
    """An episode as the audit trail shows it."""

    fingerprint: str
    starts_at: str
    state: AlertStatus
    outcome: EpisodeOutcome
    opened_at: float
    resolved_at: float | None
    ends_at: str | None


@dataclass(frozen=True)
class DecisionView:
    """A decision about the dispatch's episode, with the notification that caused it."""

    notification_id: int
    received_at: float
    receiver: str
    remote_addr: str | None
    user_agent: str | None
    alert_status: str
    route: str | None
    decision: Decision
    reason: str
    dispatch_id: str | None
    decided_at: float


@dataclass(frozen=True)
class DispatchTrail:
    """One dispatch with everything that explains it: alert, episode, decisions, attempts."""

    summary: DispatchSummary
    deadline_at: float
    request: dict[str, Any] | None  # what is sent (no secrets); None if it could not be built
    alert: Mapping[str, Any]  # the alert as the templates saw it
    episode: EpisodeView
    decisions: list[DecisionView]
    attempts: list[AttemptRecord]

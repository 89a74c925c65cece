"""The narrow interface between the bridge and its durable store.

:class:`Store` and :class:`Transaction` are all the rest of the bridge talks to. Their one
implementation is SQLite (``bridge.store.sqlite``, embedded, several server processes on one
machine); another store implements these two protocols and nothing else. Reads return the typed
records of ``bridge.store.records``.
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from bridge.payload import Notification
from bridge.store.pruning import Cutoffs, Table
from bridge.store.records import (
    AttemptRecord,
    ClaimedDispatch,
    DispatchSummary,
    DispatchTrail,
    Episode,
    EpisodeKey,
    NewDecision,
    NewDispatch,
    NewEpisode,
    Requeue,
    RequeueSource,
)
from bridge.store.run_records import FailedRun, FollowedRun, ReportedResult, RunUpdate

T = TypeVar("T")


class StoreError(Exception):
    """The store could not do what was asked (unreachable, disk full, locked too long)."""


@dataclass(frozen=True)
class OutboxStats:
    """How much is waiting to be sent, for metrics and readiness."""

    pending: int
    oldest_pending_age: float
    dead: int


class Transaction(Protocol):
    """One atomic unit of intake: everything a notification causes, or nothing."""

    def add_notification(
        self,
        notification: Notification,
        *,
        received_at: float,
        payload: str,
        remote_addr: str | None,
        user_agent: str | None,
    ) -> int:
        """Record the notification as received; returns its id."""
        ...

    def find_episode(self, key: EpisodeKey) -> Episode | None:
        """The episode of ``key``, if any."""
        ...

    def add_episode(self, episode: NewEpisode) -> Episode:
        """Record a new episode (``key`` is unique: a second one is an integrity error)."""
        ...

    def last_dispatch(self, route: str, cooldown_key: str) -> tuple[float, str] | None:
        """(time, dispatch id) of the route's latest dispatched episode with ``cooldown_key``."""
        ...

    def close_episode(self, episode_id: int, now: float, ends_at: str | None) -> bool:
        """Mark resolved; False when it already was."""
        ...

    def add_decision(self, decision: NewDecision) -> None:
        """Record one decision about one alert."""
        ...

    def add_dispatch(self, dispatch: NewDispatch) -> None:
        """Put a dispatch in the outbox."""
        ...

    def count(self, name: str, labels: Mapping[str, str], amount: float = 1.0) -> None:
        """Add to a counter exported on /metrics (kept with the data it counts)."""
        ...


class Store(Protocol):
    """The durable record of notifications, decisions, episodes and the dispatch outbox."""

    def schema_version(self) -> int:
        """The schema version the store holds; StoreError if it is newer than the code."""
        ...

    def migrate(self) -> list[int]:
        """Create or upgrade the schema under a lock; returns the versions applied."""
        ...

    def identity(self) -> str:
        """A random id made with the store: the same for every replica that shares it."""
        ...

    def transaction(self) -> AbstractContextManager[Transaction]:
        """A write transaction: committed at the end of the block, rolled back on error."""
        ...

    def atomically(self, work: Callable[[Transaction], T], locks: Sequence[str] = ()) -> T:
        """Run ``work`` in a write transaction, possibly shared with concurrent callers.

        Durable when it returns; all of ``work``'s writes or, if it raises, none of them.
        ``locks`` names what ``work`` decides on (episodes, cooldowns): a store whose writers
        run side by side holds them for the transaction, so that deciding stays one at a time.
        """
        ...

    def find_episode(self, key: EpisodeKey) -> Episode | None:
        """The episode of ``key``, read outside any write transaction (it may be a moment old)."""
        ...

    def claim_due(
        self, now: float, owner: str, lease_seconds: float, limit: int
    ) -> list[ClaimedDispatch]:
        """Lease up to ``limit`` dispatches due now (or whose lease expired) for one attempt."""
        ...

    def renew_leases(self, owner: str, dispatch_ids: list[str], until: float) -> None:
        """Keep the leases of attempts still in flight."""
        ...

    def finish_attempt(self, record: AttemptRecord, owner: str, target: str) -> None:
        """Record an attempt and move its dispatch on (succeeded, pending again, or dead)."""
        ...

    def dispatch_for_retry(self, dispatch_id: str) -> RequeueSource | None:
        """Route, target, context and state of a dispatch, to prepare it again."""
        ...

    def requeue(self, requeue: Requeue) -> bool:
        """Send a dead dispatch again from now; False if it is not dead or cannot be built."""
        ...

    def list_dispatches(
        self, state: str | None, route: str | None, limit: int, offset: int
    ) -> list[DispatchSummary]:
        """Dispatches, newest first (``state``, ``route``: only those), for the audit API."""
        ...

    def get_dispatch(self, dispatch_id: str) -> DispatchTrail | None:
        """One dispatch with its alert, decisions and attempts, for the audit API."""
        ...

    def counters(self) -> Iterator[tuple[str, dict[str, str], float]]:
        """Every counter: (name, labels, value)."""
        ...

    def claim_runs(
        self, now: float, owner: str, lease_seconds: float, limit: int
    ) -> list[FollowedRun]:
        """Lease up to ``limit`` retraining runs due for a look."""
        ...

    def update_run(self, update: RunUpdate, owner: str) -> bool:
        """Record one look at a run; False if the lease was lost (nothing recorded)."""
        ...

    def time_out_runs(self, now: float) -> list[str]:
        """Runs past their result timeout become timed_out; their dispatch ids."""
        ...

    def settle_episodes(self, now: float) -> int:
        """Judge episodes whose retraining succeeded (resolved in time, or drift persisted)."""
        ...

    def report_result(self, report: ReportedResult) -> dict[str, Any] | None:
        """Record a result reported by the job (idempotent); None for an unknown dispatch."""
        ...

    def failed_runs(self, route: str, finished_before: float) -> list[FailedRun]:
        """The route's failed runs finished before then whose episode still fires."""
        ...

    def add_redispatch(
        self, failed_dispatch_id: str, new: NewDispatch | None, number: int = 2
    ) -> bool:
        """Record dispatch ``number`` of an episode, made by on_failure (None: no more)."""
        ...

    def running_runs(self) -> list[tuple[str, str, int]]:
        """(route, target, runs not finished), for the running gauge."""
        ...

    def get_run(self, dispatch_id: str) -> dict[str, Any] | None:
        """The run of a dispatch, for the audit API."""
        ...

    def outbox(self, now: float) -> OutboxStats:
        """Pending dispatches and the age of the oldest."""
        ...

    def watch_outbox(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` whenever another process puts a dispatch in the outbox (if it can tell)."""
        ...

    def prune(self, cutoffs: Cutoffs, limit: int) -> dict[Table, int]:
        """Delete one batch of records retention lets go (see ``pruning``); rows per table."""
        ...

    def ping(self) -> None:
        """Raise StoreError unless the store can record (a write, committed: readiness)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...

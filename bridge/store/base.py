"""The narrow interface between the bridge and its durable store.

SQLite (``bridge.store.sqlite``) is the embedded default. A shared PostgreSQL store for several
bridge replicas implements the same two protocols; everything else only talks to them.
"""

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from bridge.payload import Notification
from bridge.store.records import (
    AttemptRecord,
    ClaimedDispatch,
    Episode,
    EpisodeKey,
    NewDispatch,
    NewEpisode,
    Requeue,
)

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

    def add_decision(
        self,
        notification_id: int,
        alert_index: int,
        fingerprint: str,
        starts_at: str,
        alert_status: str,
        route: str | None,
        decision: str,
        reason: str,
        episode_id: int | None,
        dispatch_id: str | None,
        now: float,
    ) -> None:
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

    def transaction(self) -> AbstractContextManager[Transaction]:
        """A write transaction: committed at the end of the block, rolled back on error."""
        ...

    def atomically(self, work: Callable[[Transaction], T]) -> T:
        """Run ``work`` in a write transaction, possibly shared with concurrent callers.

        Durable when it returns; all of ``work``'s writes or, if it raises, none of them.
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

    def dispatch_for_retry(self, dispatch_id: str) -> dict[str, Any] | None:
        """Route, target, context and state of a dispatch, to prepare it again."""
        ...

    def requeue(self, requeue: Requeue) -> bool:
        """Send a dead dispatch again from now; False if it is not dead or cannot be built."""
        ...

    def list_dispatches(
        self, state: str | None, route: str | None, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        """Dispatches, newest first, for the audit API."""
        ...

    def get_dispatch(self, dispatch_id: str) -> dict[str, Any] | None:
        """One dispatch with its alert, decisions and attempts, for the audit API."""
        ...

    def counters(self) -> Iterator[tuple[str, dict[str, str], float]]:
        """Every counter: (name, labels, value)."""
        ...

    def outbox(self, now: float) -> OutboxStats:
        """Pending dispatches and the age of the oldest."""
        ...

    def ping(self) -> None:
        """Raise StoreError unless the store answers."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...

"""Intake operations on one open SQLite write transaction."""

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from bridge import metrics
from bridge.payload import AlertStatus, Notification
from bridge.store.records import (
    DispatchState,
    Episode,
    EpisodeKey,
    EpisodeOutcome,
    NewDecision,
    NewDispatch,
    NewEpisode,
)
from common.canonical_json import canonical_json

# A counter: its name and its labels as sorted (name, value) pairs.
CounterKey = tuple[str, tuple[tuple[str, str], ...]]

_EPISODE_COLUMNS = "id, route, fingerprint, starts_at, state, outcome, dispatch_id"


def labels_key(labels: Mapping[str, str]) -> str:
    """Labels as canonical JSON, the key of a counter or a cooldown (compared as text)."""
    return canonical_json(dict(labels))


def _episode(row: sqlite3.Row) -> Episode:
    return Episode(
        id=row["id"],
        key=EpisodeKey(row["route"], row["fingerprint"], row["starts_at"]),
        state=AlertStatus(row["state"]),
        outcome=EpisodeOutcome(row["outcome"]),
        dispatch_id=row["dispatch_id"],
    )


def to_json(value: Any) -> str | None:
    """Compact JSON text, or None."""
    return None if value is None else canonical_json(value)


def from_json(value: str | None) -> Any:
    """Parsed JSON text, or None."""
    return None if value is None else json.loads(value)


class SQLiteTransaction:
    """Intake operations on one open SQLite transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        # Counter increments, written once at the end: many intakes share one commit.
        self.counts: dict[CounterKey, float] = {}

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
        cursor = self.conn.execute(
            "INSERT INTO notifications (received_at, receiver, status, group_key, external_url,"
            " alert_count, truncated_alerts, remote_addr, user_agent, payload)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                received_at,
                notification.receiver,
                notification.status,
                notification.group_key,
                notification.external_url,
                len(notification.alerts),
                notification.truncated_alerts,
                remote_addr,
                user_agent,
                payload,
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def find_episode(self, key: EpisodeKey) -> Episode | None:
        """The episode of ``key``, if any."""
        row = self.conn.execute(
            f"SELECT {_EPISODE_COLUMNS} FROM episodes"
            " WHERE route = ? AND fingerprint = ? AND starts_at = ?",
            (key.route, key.fingerprint, key.starts_at),
        ).fetchone()
        return None if row is None else _episode(row)

    def add_episode(self, episode: NewEpisode) -> Episode:
        """Record a new episode (``key`` is unique: a second one is an integrity error)."""
        key = episode.key
        dispatched_at = episode.opened_at if episode.dispatch_id is not None else None
        row = self.conn.execute(
            "INSERT INTO episodes (route, fingerprint, starts_at, labels, cooldown_key, state,"
            " outcome, dispatch_id, dispatched_at, first_notification_id, opened_at, resolved_at,"
            " ends_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            f" RETURNING {_EPISODE_COLUMNS}",
            (
                key.route,
                key.fingerprint,
                key.starts_at,
                labels_key(episode.labels),
                episode.cooldown_key,
                episode.state,
                episode.outcome,
                episode.dispatch_id,
                dispatched_at,
                episode.notification_id,
                episode.opened_at,
                episode.resolved_at,
                episode.ends_at,
            ),
        ).fetchone()
        return _episode(row)

    def last_dispatch(self, route: str, cooldown_key: str) -> tuple[float, str] | None:
        """(time, dispatch id) of the route's latest dispatched episode with ``cooldown_key``."""
        row = self.conn.execute(
            "SELECT dispatched_at, dispatch_id FROM episodes WHERE route = ? AND cooldown_key = ?"
            " AND dispatched_at IS NOT NULL ORDER BY dispatched_at DESC LIMIT 1",
            (route, cooldown_key),
        ).fetchone()
        return None if row is None else (row["dispatched_at"], row["dispatch_id"])

    def close_episode(self, episode_id: int, now: float, ends_at: str | None) -> bool:
        """Mark resolved; False when it already was."""
        cursor = self.conn.execute(
            "UPDATE episodes SET state = 'resolved', resolved_at = ?, ends_at = ?"
            " WHERE id = ? AND state = 'firing'",
            (now, ends_at, episode_id),
        )
        return cursor.rowcount == 1

    def add_decision(self, decision: NewDecision) -> None:
        """Record one decision about one alert."""
        self.conn.execute(
            "INSERT INTO decisions (notification_id, alert_index, fingerprint, starts_at,"
            " alert_status, route, decision, reason, episode_id, dispatch_id, decided_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                decision.notification_id,
                decision.alert_index,
                decision.fingerprint,
                decision.starts_at,
                decision.alert_status,
                decision.route,
                decision.decision,
                decision.reason,
                decision.episode_id,
                decision.dispatch_id,
                decision.decided_at,
            ),
        )

    def add_dispatch(self, dispatch: NewDispatch) -> None:
        """Put a dispatch in the outbox (due now, unless it is a dry run or dead already)."""
        due = dispatch.created_at if dispatch.state == DispatchState.PENDING else None
        done = None if dispatch.state == DispatchState.PENDING else dispatch.created_at
        self.conn.execute(
            "INSERT INTO dispatches (id, episode_id, kind, route, target, target_type, state,"
            " context, request, created_at, deadline_at, next_attempt_at, last_error,"
            " last_reason, completed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                dispatch.id,
                dispatch.episode_id,
                dispatch.kind,
                dispatch.route,
                dispatch.target,
                dispatch.target_type,
                dispatch.state.value,
                dispatch.context_json,
                dispatch.request_json,
                dispatch.created_at,
                dispatch.deadline_at,
                due,
                dispatch.error,
                dispatch.reason,
                done,
            ),
        )

    def count(self, name: str, labels: Mapping[str, str], amount: float = 1.0) -> None:
        """Add to a counter exported on /metrics (written with the transaction)."""
        # Encoded as JSON only when written: an intake counts several things, a batch many.
        key = (name, tuple(sorted(labels.items())))
        self.counts[key] = self.counts.get(key, 0.0) + amount


def write_counts(conn: sqlite3.Connection, counts: Mapping[CounterKey, float]) -> None:
    """Add ``counts`` to the counters table."""
    conn.executemany(
        "INSERT INTO counters (name, labels, value) VALUES (?, ?, ?)"
        " ON CONFLICT (name, labels) DO UPDATE SET value = value + excluded.value",
        [(name, labels_key(dict(labels)), amount) for (name, labels), amount in counts.items()],
    )


def count_batch(counts: dict[CounterKey, float], size: int) -> None:
    """Observe one group commit of ``size`` intakes in ``counts`` (a histogram)."""
    for bound in metrics.COMMIT_BATCH_BUCKETS:
        if size <= bound:
            key: CounterKey = (metrics.STORE_COMMIT_BATCH_BUCKET, (("le", repr(bound)),))
            counts[key] = counts.get(key, 0.0) + 1
    for key, amount in (
        ((metrics.STORE_COMMIT_BATCH_BUCKET, (("le", "+Inf"),)), 1.0),
        ((metrics.STORE_COMMIT_BATCH_SUM, ()), float(size)),
        ((metrics.STORE_COMMIT_BATCH_COUNT, ()), 1.0),
    ):
        counts[key] = counts.get(key, 0.0) + amount

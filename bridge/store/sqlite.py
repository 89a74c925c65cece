"""The embedded default store: one SQLite file in WAL mode, shared by every server process.

Each intake is one ``BEGIN IMMEDIATE`` transaction, so concurrent processes serialise on the
write lock and the UNIQUE constraint on (route, fingerprint, startsAt) makes a second firing
notification of an episode a duplicate, whichever process sees it. ``synchronous=FULL`` makes a
committed transaction survive power loss, which is what the 2xx to Alertmanager promises.
"""

import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bridge.alerts import Notification
from bridge.store.base import OutboxStats, StoreError
from bridge.store.records import (
    AttemptRecord,
    ClaimedDispatch,
    DispatchState,
    Episode,
    EpisodeKey,
    NewDispatch,
)
from bridge.store.schema import SCHEMA, SCHEMA_VERSION

# Dispatch latency buckets (seconds): most dispatches take milliseconds, retried ones hours.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0)
LATENCY_METRIC = "drift_bridge_dispatch_latency_seconds"

_EPISODE_COLUMNS = "id, route, fingerprint, starts_at, state, outcome, dispatch_id"


def _labels_key(labels: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(labels.items())), separators=(",", ":"))


def _episode(row: sqlite3.Row) -> Episode:
    return Episode(
        id=row["id"],
        key=EpisodeKey(row["route"], row["fingerprint"], row["starts_at"]),
        state=row["state"],
        outcome=row["outcome"],
        dispatch_id=row["dispatch_id"],
    )


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"), sort_keys=True)


def _loads(value: str | None) -> Any:
    return None if value is None else json.loads(value)


class SQLiteTransaction:
    """Intake operations on one open SQLite transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def add_notification(
        self,
        notification: Notification,
        received_at: float,
        payload: str,
        remote_addr: str | None,
        user_agent: str | None,
    ) -> int:
        """Record the notification as received; returns its id."""
        cursor = self._conn.execute(
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

    def open_episode(
        self,
        key: EpisodeKey,
        labels: Mapping[str, str],
        cooldown_key: str,
        notification_id: int,
        now: float,
    ) -> tuple[Episode, bool]:
        """The episode of ``key``, created firing if new; True when it was created now."""
        cursor = self._conn.execute(
            "INSERT INTO episodes (route, fingerprint, starts_at, labels, cooldown_key, state,"
            " outcome, first_notification_id, opened_at) VALUES (?, ?, ?, ?, ?, 'firing',"
            " 'pending', ?, ?) ON CONFLICT (route, fingerprint, starts_at) DO NOTHING",
            (
                key.route,
                key.fingerprint,
                key.starts_at,
                _labels_key(labels),
                cooldown_key,
                notification_id,
                now,
            ),
        )
        episode = self.find_episode(key)
        assert episode is not None
        return episode, cursor.rowcount == 1

    def find_episode(self, key: EpisodeKey) -> Episode | None:
        """The episode of ``key``, if any."""
        row = self._conn.execute(
            f"SELECT {_EPISODE_COLUMNS} FROM episodes"
            " WHERE route = ? AND fingerprint = ? AND starts_at = ?",
            (key.route, key.fingerprint, key.starts_at),
        ).fetchone()
        return None if row is None else _episode(row)

    def last_dispatch(
        self, route: str, cooldown_key: str, exclude_episode: int
    ) -> tuple[float, str] | None:
        """(time, dispatch id) of the route's latest dispatched episode with ``cooldown_key``."""
        row = self._conn.execute(
            "SELECT dispatched_at, dispatch_id FROM episodes WHERE route = ? AND cooldown_key = ?"
            " AND dispatched_at IS NOT NULL AND id != ? ORDER BY dispatched_at DESC LIMIT 1",
            (route, cooldown_key, exclude_episode),
        ).fetchone()
        return None if row is None else (row["dispatched_at"], row["dispatch_id"])

    def set_outcome(
        self, episode_id: int, outcome: str, dispatch_id: str | None, now: float
    ) -> None:
        """What was done for a new episode (a dispatch starts the route's cooldown)."""
        self._conn.execute(
            "UPDATE episodes SET outcome = ?, dispatch_id = ?, dispatched_at = ? WHERE id = ?",
            (outcome, dispatch_id, now if dispatch_id is not None else None, episode_id),
        )

    def close_episode(self, episode_id: int, now: float, ends_at: str | None) -> bool:
        """Mark resolved; False when it already was."""
        cursor = self._conn.execute(
            "UPDATE episodes SET state = 'resolved', resolved_at = ?, ends_at = ?"
            " WHERE id = ? AND state = 'firing'",
            (now, ends_at, episode_id),
        )
        return cursor.rowcount == 1

    def add_resolved_episode(
        self,
        key: EpisodeKey,
        labels: Mapping[str, str],
        cooldown_key: str,
        notification_id: int,
        now: float,
        ends_at: str | None,
    ) -> Episode:
        """Record an episode first seen resolved (its firing never reached the bridge)."""
        self._conn.execute(
            "INSERT INTO episodes (route, fingerprint, starts_at, labels, cooldown_key, state,"
            " outcome, first_notification_id, opened_at, resolved_at, ends_at)"
            " VALUES (?, ?, ?, ?, ?, 'resolved', 'resolved_before_firing', ?, ?, ?, ?)",
            (
                key.route,
                key.fingerprint,
                key.starts_at,
                _labels_key(labels),
                cooldown_key,
                notification_id,
                now,
                now,
                ends_at,
            ),
        )
        episode = self.find_episode(key)
        assert episode is not None
        return episode

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
        self._conn.execute(
            "INSERT INTO decisions (notification_id, alert_index, fingerprint, starts_at,"
            " alert_status, route, decision, reason, episode_id, dispatch_id, decided_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                notification_id,
                alert_index,
                fingerprint,
                starts_at,
                alert_status,
                route,
                decision,
                reason,
                episode_id,
                dispatch_id,
                now,
            ),
        )

    def add_dispatch(self, dispatch: NewDispatch) -> None:
        """Put a dispatch in the outbox (due now, unless it is a dry run or dead already)."""
        due = dispatch.created_at if dispatch.state == DispatchState.PENDING else None
        done = None if dispatch.state == DispatchState.PENDING else dispatch.created_at
        self._conn.execute(
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
                _json(dispatch.context),
                _json(dispatch.request),
                dispatch.created_at,
                dispatch.deadline_at,
                due,
                dispatch.error,
                dispatch.reason,
                done,
            ),
        )

    def count(self, name: str, labels: Mapping[str, str], amount: float = 1.0) -> None:
        """Add to a counter exported on /metrics."""
        self._conn.execute(
            "INSERT INTO counters (name, labels, value) VALUES (?, ?, ?)"
            " ON CONFLICT (name, labels) DO UPDATE SET value = value + excluded.value",
            (name, _labels_key(labels), amount),
        )


class SQLiteStore:
    """The store in one SQLite file; safe to share between threads and processes.

    >>> store = SQLiteStore(Path("/var/lib/drift-bridge/bridge.db"))
    >>> with store.transaction() as txn:
    ...     notification_id = txn.add_notification(...)
    """

    def __init__(self, path: Path, busy_timeout: float = 10.0) -> None:
        self.path = path
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # One script, one transaction: processes starting together create it once.
            self._conn().executescript(
                f"BEGIN IMMEDIATE; {SCHEMA}"
                " INSERT INTO meta (key, value) VALUES ('schema_version',"
                f" '{SCHEMA_VERSION}') ON CONFLICT (key) DO NOTHING; COMMIT;"
            )
        except (sqlite3.Error, OSError) as err:
            raise StoreError(f"cannot open the store {path}: {err}") from err

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        # A connection must never cross a fork: gunicorn workers each open their own.
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = sqlite3.connect(
                self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=True
            )
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._local.conn = conn
            self._local.pid = os.getpid()
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[SQLiteTransaction]:
        """An intake transaction: committed at the end of the block, rolled back on error."""
        try:
            with self._write() as conn:
                yield SQLiteTransaction(conn)
        except sqlite3.Error as err:
            raise StoreError(f"store {self.path}: {err}") from err

    def count(self, name: str, labels: Mapping[str, str], amount: float = 1.0) -> None:
        """Add to a counter in a transaction of its own."""
        with self.transaction() as txn:
            txn.count(name, labels, amount)

    def claim_due(
        self, now: float, owner: str, lease_seconds: float, limit: int
    ) -> list[ClaimedDispatch]:
        """Lease up to ``limit`` dispatches due now (or whose lease expired) for one attempt."""
        try:
            with self._write() as conn:
                rows = conn.execute(
                    "UPDATE dispatches SET state = 'sending', lease_owner = ?, lease_until = ?,"
                    " attempts = attempts + 1 WHERE id IN (SELECT id FROM dispatches"
                    " WHERE (state = 'pending' AND next_attempt_at <= ?)"
                    " OR (state = 'sending' AND lease_until < ?)"
                    " ORDER BY next_attempt_at LIMIT ?)"
                    " RETURNING id, route, target, request, attempts, created_at, deadline_at,"
                    " (SELECT fingerprint FROM episodes WHERE episodes.id = episode_id) AS fp",
                    (owner, now + lease_seconds, now, now, limit),
                ).fetchall()
        except sqlite3.Error as err:
            raise StoreError(f"store {self.path}: {err}") from err
        return [
            ClaimedDispatch(
                id=row["id"],
                route=row["route"],
                target=row["target"],
                request=json.loads(row["request"]),
                attempt=row["attempts"],
                created_at=row["created_at"],
                deadline_at=row["deadline_at"],
                fingerprint=row["fp"],
            )
            for row in rows
        ]

    def renew_leases(self, owner: str, dispatch_ids: list[str], until: float) -> None:
        """Keep the leases of attempts still in flight."""
        marks = ", ".join("?" for _ in dispatch_ids)
        try:
            with self._write() as conn:
                conn.execute(
                    "UPDATE dispatches SET lease_until = ? WHERE lease_owner = ?"
                    f" AND id IN ({marks}) AND state = 'sending'",
                    (until, owner, *dispatch_ids),
                )
        except sqlite3.Error as err:
            raise StoreError(f"store {self.path}: {err}") from err

    def finish_attempt(self, record: AttemptRecord, owner: str, target: str) -> None:
        """Record an attempt and move its dispatch on (succeeded, pending again, or dead)."""
        state = {
            "success": DispatchState.SUCCEEDED,
            "retry": DispatchState.PENDING,
            "failed": DispatchState.DEAD,
        }[record.outcome]
        completed = record.finished_at if state != DispatchState.PENDING else None
        try:
            with self._write() as conn:
                conn.execute(
                    "INSERT INTO attempts (dispatch_id, attempt, started_at, finished_at, outcome,"
                    " reason, status, message, response, details, next_attempt_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        record.dispatch_id,
                        record.attempt,
                        record.started_at,
                        record.finished_at,
                        record.outcome,
                        record.reason,
                        record.status,
                        record.message,
                        record.response,
                        _json(record.details),
                        record.next_attempt_at,
                    ),
                )
                # Only the lease holder moves the dispatch on: a worker that stalled past its
                # lease still has its attempt recorded, but the takeover's outcome stands.
                created = conn.execute(
                    "UPDATE dispatches SET state = ?, next_attempt_at = ?, lease_owner = NULL,"
                    " lease_until = NULL, last_error = ?, last_reason = ?,"
                    " result = COALESCE(?, result), completed_at = ?"
                    " WHERE id = ? AND state = 'sending' AND lease_owner = ?"
                    " RETURNING created_at",
                    (
                        state.value,
                        record.next_attempt_at,
                        None if state == DispatchState.SUCCEEDED else record.message,
                        record.reason,
                        _json(record.details),
                        completed,
                        record.dispatch_id,
                        owner,
                    ),
                ).fetchone()
                if created is None:
                    return
                txn = SQLiteTransaction(conn)
                reason = record.reason or "none"
                txn.count(
                    "drift_bridge_dispatch_attempts_total",
                    {"target": target, "outcome": record.outcome, "reason": reason},
                )
                if state != DispatchState.PENDING:
                    txn.count("drift_bridge_dispatches_total", {"target": target, "outcome": state})
                if state == DispatchState.SUCCEEDED:
                    _observe_latency(txn, target, record.finished_at - created["created_at"])
        except sqlite3.Error as err:
            raise StoreError(f"store {self.path}: {err}") from err

    def dispatch_for_retry(self, dispatch_id: str) -> dict[str, Any] | None:
        """Route, target, context and state of a dispatch, to prepare it again."""
        row = self._read_one(
            "SELECT id, route, target, state, kind, context FROM dispatches WHERE id = ?",
            (dispatch_id,),
        )
        if row is None:
            return None
        return {**dict(row), "context": json.loads(row["context"])}

    def requeue(
        self,
        dispatch_id: str,
        request: dict[str, Any] | None,
        error: str | None,
        now: float,
        deadline_at: float,
    ) -> None:
        """Send a dead dispatch again from now (or record why it still cannot be)."""
        try:
            with self._write() as conn:
                if request is None:
                    conn.execute(
                        "UPDATE dispatches SET last_error = ?, last_reason = 'invalid_request'"
                        " WHERE id = ?",
                        (error, dispatch_id),
                    )
                    return
                conn.execute(
                    "UPDATE dispatches SET state = 'pending', request = ?, next_attempt_at = ?,"
                    " deadline_at = ?, completed_at = NULL, lease_owner = NULL, lease_until = NULL"
                    " WHERE id = ? AND state = 'dead'",
                    (_json(request), now, deadline_at, dispatch_id),
                )
                SQLiteTransaction(conn).count("drift_bridge_dispatch_retries_requested_total", {})
        except sqlite3.Error as err:
            raise StoreError(f"store {self.path}: {err}") from err

    def list_dispatches(
        self, state: str | None, route: str | None, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        """Dispatches, newest first, for the audit API."""
        where, args = [], []
        if state is not None:
            where.append("d.state = ?")
            args.append(state)
        if route is not None:
            where.append("d.route = ?")
            args.append(route)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._read(
            "SELECT d.id, d.kind, d.route, d.target, d.target_type, d.state, d.created_at,"
            " d.completed_at, d.attempts, d.next_attempt_at, d.last_error, d.last_reason,"
            " d.result, e.fingerprint, e.starts_at, e.labels, e.state AS episode_state"
            f" FROM dispatches d JOIN episodes e ON e.id = d.episode_id {clause}"
            " ORDER BY d.created_at DESC, d.id LIMIT ? OFFSET ?",
            (*args, limit, offset),
        )
        return [_dispatch_summary(row) for row in rows]

    def get_dispatch(self, dispatch_id: str) -> dict[str, Any] | None:
        """One dispatch with its alert, decisions and attempts, for the audit API."""
        row = self._read_one(
            "SELECT d.*, e.fingerprint, e.starts_at, e.labels, e.state AS episode_state,"
            " e.outcome AS episode_outcome, e.opened_at, e.resolved_at, e.ends_at, e.id AS eid"
            " FROM dispatches d JOIN episodes e ON e.id = d.episode_id WHERE d.id = ?",
            (dispatch_id,),
        )
        if row is None:
            return None
        decisions = self._read(
            "SELECT c.notification_id, n.received_at, n.receiver, n.remote_addr, n.user_agent,"
            " c.alert_status, c.route, c.decision, c.reason, c.dispatch_id, c.decided_at"
            " FROM decisions c JOIN notifications n ON n.id = c.notification_id"
            " WHERE c.episode_id = ? ORDER BY c.id",
            (row["eid"],),
        )
        attempts = self._read(
            "SELECT attempt, started_at, finished_at, outcome, reason, status, message, response,"
            " details, next_attempt_at FROM attempts WHERE dispatch_id = ? ORDER BY id",
            (dispatch_id,),
        )
        context = json.loads(row["context"])
        return {
            **_dispatch_summary(row),
            "deadline_at": row["deadline_at"],
            "request": _loads(row["request"]),
            "alert": {
                key: context.get(key)
                for key in (
                    "status",
                    "labels",
                    "annotations",
                    "starts_at",
                    "ends_at",
                    "fingerprint",
                    "generator_url",
                    "value",
                )
            },
            "episode": {
                "fingerprint": row["fingerprint"],
                "starts_at": row["starts_at"],
                "state": row["episode_state"],
                "outcome": row["episode_outcome"],
                "opened_at": row["opened_at"],
                "resolved_at": row["resolved_at"],
                "ends_at": row["ends_at"],
            },
            "decisions": [dict(d) for d in decisions],
            "attempts": [{**dict(a), "details": _loads(a["details"])} for a in attempts],
        }

    def counters(self) -> Iterator[tuple[str, dict[str, str], float]]:
        """Every counter: (name, labels, value)."""
        for row in self._read("SELECT name, labels, value FROM counters ORDER BY name", ()):
            yield row["name"], json.loads(row["labels"]), row["value"]

    def outbox(self, now: float) -> OutboxStats:
        """Pending dispatches and the age of the oldest."""
        row = self._read_one(
            "SELECT"
            " (SELECT COUNT(*) FROM dispatches WHERE state IN ('pending', 'sending')) AS pending,"
            " (SELECT MIN(created_at) FROM dispatches WHERE state IN ('pending', 'sending'))"
            " AS oldest,"
            " (SELECT COUNT(*) FROM dispatches WHERE state = 'dead') AS dead",
            (),
        )
        assert row is not None
        oldest = row["oldest"]
        return OutboxStats(
            pending=row["pending"],
            oldest_pending_age=0.0 if oldest is None else max(0.0, now - oldest),
            dead=row["dead"],
        )

    def ping(self) -> None:
        """Raise StoreError unless the store answers."""
        self._read_one("SELECT 1", ())

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _read(self, sql: str, args: tuple[Any, ...]) -> list[sqlite3.Row]:
        try:
            return self._conn().execute(sql, args).fetchall()
        except sqlite3.Error as err:
            raise StoreError(f"store {self.path}: {err}") from err

    def _read_one(self, sql: str, args: tuple[Any, ...]) -> sqlite3.Row | None:
        rows = self._read(sql, args)
        return rows[0] if rows else None


def _observe_latency(txn: SQLiteTransaction, target: str, seconds: float) -> None:
    for bound in LATENCY_BUCKETS:
        if seconds <= bound:
            txn.count(f"{LATENCY_METRIC}_bucket", {"target": target, "le": repr(bound)})
    txn.count(f"{LATENCY_METRIC}_bucket", {"target": target, "le": "+Inf"})
    txn.count(f"{LATENCY_METRIC}_sum", {"target": target}, seconds)
    txn.count(f"{LATENCY_METRIC}_count", {"target": target})


def _dispatch_summary(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "kind": row["kind"],
        "state": row["state"],
        "route": row["route"],
        "target": row["target"],
        "target_type": row["target_type"],
        "created_at": row["created_at"],
        "completed_at": row["completed_at"],
        "attempt_count": row["attempts"],
        "next_attempt_at": row["next_attempt_at"],
        "last_error": row["last_error"],
        "last_reason": row["last_reason"],
        "result": _loads(row["result"]),
        "fingerprint": row["fingerprint"],
        "starts_at": row["starts_at"],
        "labels": json.loads(row["labels"]),
        "episode_state": row["episode_state"],
    }

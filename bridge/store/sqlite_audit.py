"""Reads for the audit API and /metrics: dispatches with their trail, counters, the outbox."""

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

from bridge.payload import AlertStatus
from bridge.store.base import OutboxStats
from bridge.store.records import (
    AttemptOutcome,
    AttemptRecord,
    Decision,
    DecisionView,
    DispatchState,
    DispatchSummary,
    DispatchTrail,
    EpisodeOutcome,
    EpisodeView,
    RequeueSource,
)
from bridge.store.sqlite_transaction import from_json

# The alert's variables the audit trail shows (the context holds more: route, receiver, ...).
_ALERT_KEYS = (
    "status",
    "labels",
    "annotations",
    "starts_at",
    "ends_at",
    "fingerprint",
    "generator_url",
    "value",
)


def _read(conn: sqlite3.Connection, sql: str, args: tuple[Any, ...]) -> list[sqlite3.Row]:
    return conn.execute(sql, args).fetchall()


def _read_one(conn: sqlite3.Connection, sql: str, args: tuple[Any, ...]) -> sqlite3.Row | None:
    rows = _read(conn, sql, args)
    return rows[0] if rows else None


def dispatch_for_retry(conn: sqlite3.Connection, dispatch_id: str) -> RequeueSource | None:
    """Route, target, context and state of a dispatch, to prepare it again."""
    row = _read_one(
        conn,
        "SELECT id, route, target, state, kind, context FROM dispatches WHERE id = ?",
        (dispatch_id,),
    )
    if row is None:
        return None
    return RequeueSource(
        id=row["id"],
        route=row["route"],
        target=row["target"],
        state=DispatchState(row["state"]),
        kind=AlertStatus(row["kind"]),
        context=json.loads(row["context"]),
    )


def list_dispatches(
    conn: sqlite3.Connection, state: str | None, route: str | None, limit: int, offset: int
) -> list[DispatchSummary]:
    """Dispatches, newest first, for the audit API."""
    where, args = [], []
    if state is not None:
        where.append("d.state = ?")
        args.append(state)
    if route is not None:
        where.append("d.route = ?")
        args.append(route)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    rows = _read(
        conn,
        "SELECT d.id, d.kind, d.route, d.target, d.target_type, d.state, d.created_at,"
        " d.completed_at, d.attempts, d.next_attempt_at, d.last_error, d.last_reason,"
        " d.result, e.fingerprint, e.starts_at, e.labels, e.state AS episode_state"
        f" FROM dispatches d JOIN episodes e ON e.id = d.episode_id {clause}"
        " ORDER BY d.created_at DESC, d.id LIMIT ? OFFSET ?",
        (*args, limit, offset),
    )
    return [_summary(row) for row in rows]


def get_dispatch(conn: sqlite3.Connection, dispatch_id: str) -> DispatchTrail | None:
    """One dispatch with its alert, decisions and attempts, for the audit API."""
    row = _read_one(
        conn,
        "SELECT d.*, e.fingerprint, e.starts_at, e.labels, e.state AS episode_state,"
        " e.outcome AS episode_outcome, e.opened_at, e.resolved_at, e.ends_at, e.id AS eid"
        " FROM dispatches d JOIN episodes e ON e.id = d.episode_id WHERE d.id = ?",
        (dispatch_id,),
    )
    if row is None:
        return None
    decisions = _read(
        conn,
        "SELECT c.notification_id, n.received_at, n.receiver, n.remote_addr, n.user_agent,"
        " c.alert_status, c.route, c.decision, c.reason, c.dispatch_id, c.decided_at"
        " FROM decisions c JOIN notifications n ON n.id = c.notification_id"
        " WHERE c.episode_id = ? ORDER BY c.id",
        (row["eid"],),
    )
    attempts = _read(
        conn,
        "SELECT attempt, started_at, finished_at, outcome, reason, status, message, response,"
        " details, next_attempt_at FROM attempts WHERE dispatch_id = ? ORDER BY id",
        (dispatch_id,),
    )
    context = json.loads(row["context"])
    return DispatchTrail(
        summary=_summary(row),
        deadline_at=row["deadline_at"],
        request=from_json(row["request"]),
        alert={key: context.get(key) for key in _ALERT_KEYS},
        episode=EpisodeView(
            fingerprint=row["fingerprint"],
            starts_at=row["starts_at"],
            state=AlertStatus(row["episode_state"]),
            outcome=EpisodeOutcome(row["episode_outcome"]),
            opened_at=row["opened_at"],
            resolved_at=row["resolved_at"],
            ends_at=row["ends_at"],
        ),
        decisions=[_decision(d) for d in decisions],
        attempts=[_attempt(dispatch_id, a) for a in attempts],
    )


def counters(conn: sqlite3.Connection) -> Iterator[tuple[str, dict[str, str], float]]:
    """Every counter: (name, labels, value)."""
    for row in _read(conn, "SELECT name, labels, value FROM counters ORDER BY name", ()):
        yield row["name"], json.loads(row["labels"]), row["value"]


def outbox_stats(conn: sqlite3.Connection, now: float) -> OutboxStats:
    """Pending dispatches and the age of the oldest."""
    row = _read_one(
        conn,
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


def _summary(row: sqlite3.Row) -> DispatchSummary:
    return DispatchSummary(
        id=row["id"],
        kind=AlertStatus(row["kind"]),
        state=DispatchState(row["state"]),
        route=row["route"],
        target=row["target"],
        target_type=row["target_type"],
        created_at=row["created_at"],
        completed_at=row["completed_at"],
        attempt_count=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        last_reason=row["last_reason"],
        result=from_json(row["result"]),
        fingerprint=row["fingerprint"],
        starts_at=row["starts_at"],
        labels=json.loads(row["labels"]),
        episode_state=AlertStatus(row["episode_state"]),
    )


def _decision(row: sqlite3.Row) -> DecisionView:
    return DecisionView(
        notification_id=row["notification_id"],
        received_at=row["received_at"],
        receiver=row["receiver"],
        remote_addr=row["remote_addr"],
        user_agent=row["user_agent"],
        alert_status=row["alert_status"],
        route=row["route"],
        decision=Decision(row["decision"]),
        reason=row["reason"],
        dispatch_id=row["dispatch_id"],
        decided_at=row["decided_at"],
    )


def _attempt(dispatch_id: str, row: sqlite3.Row) -> AttemptRecord:
    return AttemptRecord(
        dispatch_id=dispatch_id,
        attempt=row["attempt"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        outcome=AttemptOutcome(row["outcome"]),
        reason=row["reason"],
        status=row["status"],
        message=row["message"],
        response=row["response"],
        details=from_json(row["details"]),
        next_attempt_at=row["next_attempt_at"],
    )

"""The outbox in SQLite: leasing due dispatches, recording attempts, requeueing dead ones."""

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from bridge import metrics
from bridge.metrics import DispatchOutcome
from bridge.store.records import (
    AttemptOutcome,
    AttemptRecord,
    ClaimedDispatch,
    DispatchState,
    Requeue,
)
from bridge.store.sqlite_runs import add_run
from bridge.store.sqlite_transaction import SQLiteTransaction, to_json

# The reason recorded for an attempt lost with its process.
PROCESS_DIED = "process_died"

_NEXT_STATE = {
    AttemptOutcome.SUCCESS: DispatchState.SUCCEEDED,
    AttemptOutcome.TRY_AGAIN: DispatchState.PENDING,
    AttemptOutcome.FAILED: DispatchState.DEAD,
    # The run an attempt whose outcome was unknown started was found and is followed.
    AttemptOutcome.ADOPTED: DispatchState.SUCCEEDED,
    # Dry run turned on after the dispatch was created: it is recorded, never sent.
    AttemptOutcome.DRY_RUN: DispatchState.DRY_RUN,
}


def claim_due(
    txn: SQLiteTransaction, now: float, owner: str, lease_seconds: float, limit: int
) -> list[ClaimedDispatch]:
    """Lease up to ``limit`` dispatches due now (or whose lease expired) for one attempt.

    An attempt leased before and never recorded was lost with its process: it is recorded now
    as ``outcome unknown (process died)``, and the claimed dispatch says its outcome is unknown.
    """
    conn = txn.conn
    rows = conn.execute(
        "UPDATE dispatches SET state = 'sending', lease_owner = ?, lease_until = ?,"
        " attempts = attempts + 1 WHERE id IN (SELECT id FROM dispatches"
        " WHERE (state = 'pending' AND next_attempt_at <= ?)"
        " OR (state = 'sending' AND lease_until < ?)"
        " ORDER BY next_attempt_at LIMIT ?)"
        " RETURNING id, route, target, target_type, request, attempts, retry_from, created_at,"
        " deadline_at,"
        " (SELECT fingerprint FROM episodes WHERE episodes.id = episode_id) AS fp",
        (owner, now + lease_seconds, now, now, limit),
    ).fetchall()
    return [claimed_dispatch(txn, row, owner, now) for row in rows]


def claimed_dispatch(
    txn: SQLiteTransaction, row: Mapping[str, Any], owner: str, now: float
) -> ClaimedDispatch:
    """A claimed row as the dispatcher takes it, its lost attempts recorded (PostgreSQL too)."""
    return ClaimedDispatch(
        outcome_unknown=record_lost_attempts(txn, row, owner, now),
        id=row["id"],
        route=row["route"],
        target=row["target"],
        target_type=row["target_type"],
        request=json.loads(row["request"]),
        attempt=row["attempts"],
        retry_from=row["retry_from"],
        created_at=row["created_at"],
        deadline_at=row["deadline_at"],
        fingerprint=row["fp"],
    )


def record_lost_attempts(
    txn: SQLiteTransaction, claimed: Mapping[str, Any], owner: str, now: float
) -> bool:
    """Record this attempt's lease, and every earlier one never recorded; True if unknown."""
    conn = txn.conn
    dispatch_id, attempt = claimed["id"], claimed["attempts"]
    conn.execute(
        "INSERT INTO attempt_claims (dispatch_id, attempt, owner, claimed_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (dispatch_id, attempt) DO UPDATE SET owner = excluded.owner,"
        " claimed_at = excluded.claimed_at",
        (dispatch_id, attempt, owner, now),
    )
    lost = conn.execute(
        "SELECT attempt, owner, claimed_at FROM attempt_claims c WHERE dispatch_id = ?"
        " AND attempt < ? AND NOT EXISTS (SELECT 1 FROM attempts a"
        " WHERE a.dispatch_id = c.dispatch_id AND a.attempt = c.attempt) ORDER BY attempt",
        (dispatch_id, attempt),
    ).fetchall()
    for row in lost:
        conn.execute(
            "INSERT INTO attempts (dispatch_id, attempt, started_at, finished_at, outcome, reason,"
            " message) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                dispatch_id,
                row["attempt"],
                row["claimed_at"],
                now,
                AttemptOutcome.UNKNOWN.value,
                PROCESS_DIED,
                f"outcome unknown (process died): attempt {row['attempt']} by {row['owner']} "
                "was never recorded and its lease expired; looking for the run it may have "
                "started before sending again",
            ),
        )
        txn.count(
            metrics.DISPATCH_ATTEMPTS_TOTAL,
            {
                "target": claimed["target"],
                "outcome": AttemptOutcome.UNKNOWN,
                "reason": PROCESS_DIED,
            },
        )
    # Once unknown, every later attempt looks first: a look that failed, or a send after a look
    # that found nothing, does not tell whether that first request started a run meanwhile.
    # A timeout is as unknown as a death: the request may have reached the target.
    unknown = conn.execute(
        "SELECT 1 FROM attempts WHERE dispatch_id = ? AND (outcome = 'unknown'"
        " OR (outcome = 'retry' AND reason = 'timeout')) LIMIT 1",
        (dispatch_id,),
    ).fetchone()
    return unknown is not None


def renew_leases(
    conn: sqlite3.Connection, owner: str, dispatch_ids: list[str], until: float
) -> None:
    """Keep the leases of attempts still in flight."""
    marks = ", ".join("?" for _ in dispatch_ids)
    conn.execute(
        "UPDATE dispatches SET lease_until = ? WHERE lease_owner = ?"
        f" AND id IN ({marks}) AND state = 'sending'",
        (until, owner, *dispatch_ids),
    )


def finish_attempt(txn: SQLiteTransaction, record: AttemptRecord, owner: str, target: str) -> None:
    """Record an attempt and move its dispatch on (succeeded, pending again, or dead)."""
    state = _NEXT_STATE[AttemptOutcome(record.outcome)]
    txn.conn.execute(
        "INSERT INTO attempts (dispatch_id, attempt, started_at, finished_at, outcome, reason,"
        " status, message, response, details, next_attempt_at)"
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
            to_json(record.details),
            record.next_attempt_at,
        ),
    )
    # Only the lease holder moves the dispatch on: a worker that stalled past its lease still
    # has its attempt recorded, but the outcome of the worker that took over stands.
    created = txn.conn.execute(
        "UPDATE dispatches SET state = ?, next_attempt_at = ?, lease_owner = NULL,"
        " lease_until = NULL, last_error = ?, last_reason = ?, result = COALESCE(?, result),"
        " completed_at = ? WHERE id = ? AND state = 'sending' AND lease_owner = ?"
        " RETURNING created_at",
        (
            state.value,
            record.next_attempt_at,
            None if state == DispatchState.SUCCEEDED else record.message,
            record.reason,
            to_json(record.details),
            record.finished_at if state != DispatchState.PENDING else None,
            record.dispatch_id,
            owner,
        ),
    ).fetchone()
    if created is None:
        return
    txn.count(
        metrics.DISPATCH_ATTEMPTS_TOTAL,
        {"target": target, "outcome": record.outcome, "reason": record.reason or metrics.NO_REASON},
    )
    if state != DispatchState.PENDING:
        txn.count(metrics.DISPATCHES_TOTAL, {"target": target, "outcome": DispatchOutcome(state)})
    if state == DispatchState.SUCCEEDED:
        _observe_latency(txn, target, record.finished_at - created["created_at"])
        if record.run is not None:
            add_run(txn, record.dispatch_id, record.run, record.finished_at)


def requeue(txn: SQLiteTransaction, requeue: Requeue) -> bool:
    """Send a dead dispatch again from now; False if it is not dead (any more) or cannot be."""
    if requeue.request is None:
        txn.conn.execute(
            "UPDATE dispatches SET last_error = ?, last_reason = 'invalid_request'"
            " WHERE id = ? AND state = 'dead'",
            (requeue.error, requeue.dispatch_id),
        )
        return False
    cursor = txn.conn.execute(
        "UPDATE dispatches SET state = 'pending', target = ?, target_type = ?, request = ?,"
        " next_attempt_at = ?, deadline_at = ?, completed_at = NULL, lease_owner = NULL,"
        " lease_until = NULL, retry_from = attempts WHERE id = ? AND state = 'dead'",
        (
            requeue.target,
            requeue.target_type,
            to_json(requeue.request),
            requeue.now,
            requeue.deadline_at,
            requeue.dispatch_id,
        ),
    )
    if cursor.rowcount != 1:
        return False
    txn.count(metrics.DISPATCH_RETRIES_REQUESTED_TOTAL, {})
    return True


def _observe_latency(txn: SQLiteTransaction, target: str, seconds: float) -> None:
    for bound in metrics.LATENCY_BUCKETS:
        if seconds <= bound:
            txn.count(metrics.DISPATCH_LATENCY_BUCKET, {"target": target, "le": repr(bound)})
    txn.count(metrics.DISPATCH_LATENCY_BUCKET, {"target": target, "le": "+Inf"})
    txn.count(metrics.DISPATCH_LATENCY_SUM, {"target": target}, seconds)
    txn.count(metrics.DISPATCH_LATENCY_COUNT, {"target": target})

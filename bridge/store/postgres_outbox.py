"""Leasing due dispatches in PostgreSQL, shared by every replica.

``FOR UPDATE SKIP LOCKED`` lets replicas claim at the same moment without waiting on each other
or taking the same row: a row another claim is leasing is skipped, not waited for.
"""

import json

from bridge.store.postgres_transaction import PostgresTransaction
from bridge.store.records import ClaimedDispatch
from bridge.store.run_records import FollowedRun
from bridge.store.sqlite_outbox import claimed_dispatch


def claim_due(
    txn: PostgresTransaction, now: float, owner: str, lease_seconds: float, limit: int
) -> list[ClaimedDispatch]:
    """Lease up to ``limit`` dispatches due now (or whose lease expired) for one attempt.

    An attempt leased before and never recorded is recorded as lost (see sqlite_outbox).
    """
    rows = txn.pg.execute(
        "WITH due AS (SELECT id FROM dispatches"
        " WHERE (state = 'pending' AND next_attempt_at <= %(now)s)"
        " OR (state = 'sending' AND lease_until < %(now)s)"
        " ORDER BY next_attempt_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
        " UPDATE dispatches d SET state = 'sending', lease_owner = %(owner)s,"
        " lease_until = %(until)s, attempts = d.attempts + 1 FROM due WHERE d.id = due.id"
        " RETURNING d.id, d.route, d.target, d.target_type, d.request, d.attempts, d.retry_from,"
        " d.created_at, d.deadline_at,"
        " (SELECT fingerprint FROM episodes e WHERE e.id = d.episode_id) AS fp",
        {"now": now, "limit": limit, "owner": owner, "until": now + lease_seconds},
    ).fetchall()
    return [claimed_dispatch(txn, row, owner, now) for row in rows]


def claim_runs(
    txn: PostgresTransaction, now: float, owner: str, lease_seconds: float, limit: int
) -> list[FollowedRun]:
    """Lease up to ``limit`` retraining runs due for a look; replicas skip each other's rows."""
    rows = txn.pg.execute(
        "WITH due AS (SELECT dispatch_id FROM runs WHERE state IN ('queued', 'running')"
        " AND next_poll_at <= %(now)s AND (lease_until IS NULL OR lease_until < %(now)s)"
        " ORDER BY next_poll_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
        " UPDATE runs r SET lease_owner = %(owner)s, lease_until = %(until)s FROM due"
        " WHERE r.dispatch_id = due.dispatch_id"
        " RETURNING r.dispatch_id, r.route, r.target, r.state, r.locator, r.etag, r.errors,"
        " r.created_at, r.timeout_at, (SELECT e.fingerprint FROM dispatches d JOIN episodes e"
        " ON e.id = d.episode_id WHERE d.id = r.dispatch_id) AS fp",
        {"now": now, "limit": limit, "owner": owner, "until": now + lease_seconds},
    ).fetchall()
    return [
        FollowedRun(
            dispatch_id=row["dispatch_id"],
            route=row["route"],
            target=row["target"],
            state=row["state"],
            locator=json.loads(row["locator"]),
            etag=row["etag"],
            errors=row["errors"],
            created_at=row["created_at"],
            timeout_at=row["timeout_at"],
            fingerprint=row["fp"],
        )
        for row in rows
    ]

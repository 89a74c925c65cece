"""Leasing due dispatches in PostgreSQL, shared by every replica.

``FOR UPDATE SKIP LOCKED`` lets replicas claim at the same moment without waiting on each other
or taking the same row: a row another claim is leasing is skipped, not waited for.
"""

import json
from typing import Any

import psycopg

from bridge.store.records import ClaimedDispatch


def claim_due(
    conn: psycopg.Connection[Any], now: float, owner: str, lease_seconds: float, limit: int
) -> list[ClaimedDispatch]:
    """Lease up to ``limit`` dispatches due now (or whose lease expired) for one attempt."""
    rows = conn.execute(
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
    return [
        ClaimedDispatch(
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
        for row in rows
    ]

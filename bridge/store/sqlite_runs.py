"""Retraining runs in SQLite: recorded with the attempt that started them, leased for one look at
a time, moved on by what each look showed, timed out, and judged against the episode's end."""

import json
import sqlite3
from typing import Any

from bridge import metrics
from bridge.metrics import EpisodeOutcome, RetrainingResult
from bridge.store.records import NewDispatch
from bridge.store.run_records import (
    FailedRun,
    FollowedRun,
    NewRun,
    ReportedResult,
    RunUpdate,
)
from bridge.store.sqlite_transaction import SQLiteTransaction, from_json, to_json

# RunState / RetrainingResult values, as the store writes them (the store does not import the
# targets package).
_COMPLETED = "completed"
_SUCCEEDED = RetrainingResult.SUCCEEDED.value
_WAITING_REPORT = "awaiting_report"
# The kind of a further dispatch of an episode (a route's on_failure): "firing#2".
_REDISPATCHED_KIND = "%#%"


def add_run(txn: SQLiteTransaction, dispatch_id: str, run: NewRun, now: float) -> None:
    """Record a run to follow (or to wait for the job's report); kept if it exists already."""
    followed = run.locator is not None
    txn.conn.execute(
        "INSERT INTO runs (dispatch_id, route, target, state, locator, adopted, created_at,"
        " timeout_at, verify_within, next_poll_at, updated_at)"
        " SELECT id, route, target, ?, ?, ?, ?, ?, ?, ?, ? FROM dispatches WHERE id = ?"
        " ON CONFLICT (dispatch_id) DO NOTHING",
        (
            "queued" if followed else _WAITING_REPORT,
            to_json(run.locator),
            int(run.adopted),
            now,
            run.timeout_at,
            run.verify_within,
            now if followed else None,
            now,
            dispatch_id,
        ),
    )


def claim_runs(
    conn: sqlite3.Connection, now: float, owner: str, lease_seconds: float, limit: int
) -> list[FollowedRun]:
    """Lease up to ``limit`` runs due for a look."""
    rows = conn.execute(
        "UPDATE runs SET lease_owner = ?, lease_until = ? WHERE dispatch_id IN"
        " (SELECT dispatch_id FROM runs WHERE state IN ('queued', 'running')"
        " AND next_poll_at <= ? AND (lease_until IS NULL OR lease_until < ?)"
        " ORDER BY next_poll_at LIMIT ?)"
        " RETURNING dispatch_id, route, target, state, locator, etag, errors, created_at,"
        " timeout_at, (SELECT e.fingerprint FROM dispatches d JOIN episodes e"
        " ON e.id = d.episode_id WHERE d.id = runs.dispatch_id) AS fp",
        (owner, now + lease_seconds, now, now, limit),
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


def update_run(txn: SQLiteTransaction, update: RunUpdate, owner: str) -> bool:
    """Record one look at a run; False when this follower's lease was lost (nothing written)."""
    failed = update.error is not None
    row = txn.conn.execute(
        "UPDATE runs SET state = COALESCE(?, state), locator = COALESCE(?, locator),"
        " result = COALESCE(?, result), detail = COALESCE(?, detail), url = COALESCE(?, url),"
        " external_id = COALESCE(?, external_id), run_attempt = COALESCE(?, run_attempt),"
        " started_at = COALESCE(?, started_at), finished_at = COALESCE(?, finished_at),"
        " duration = COALESCE(?, duration), etag = COALESCE(?, etag), next_poll_at = ?,"
        " polls = polls + 1, errors = CASE WHEN ? THEN errors + 1 ELSE 0 END,"
        " last_error = ?, lease_owner = NULL, lease_until = NULL, updated_at = ?"
        " WHERE dispatch_id = ? AND lease_owner = ? AND state != 'completed'"
        " RETURNING route, target, state, result, duration",
        (
            update.state,
            to_json(update.locator),
            update.result,
            update.detail,
            update.url,
            update.external_id,
            update.run_attempt,
            update.started_at,
            update.finished_at,
            update.duration,
            update.etag,
            None if update.state == _COMPLETED else update.next_poll_at,
            failed,
            update.error,
            update.now,
            update.dispatch_id,
            owner,
        ),
    ).fetchone()
    if row is None:
        return False
    if update.state == _COMPLETED:
        _completed(txn, update.dispatch_id, row)
    return True


def time_out_runs(txn: SQLiteTransaction, now: float) -> list[str]:
    """Runs without a result past their ``timeout_at`` become timed_out; their dispatch ids."""
    rows = txn.conn.execute(
        "UPDATE runs SET state = 'completed', result = 'timed_out',"
        " detail = 'no result within the route''s result_timeout', finished_at = ?,"
        " next_poll_at = NULL, lease_owner = NULL, lease_until = NULL, updated_at = ?"
        " WHERE state != 'completed' AND timeout_at < ?"
        " RETURNING dispatch_id, route, target, state, result, duration",
        (now, now, now),
    ).fetchall()
    for row in rows:
        _completed(txn, row["dispatch_id"], row)
    return [row["dispatch_id"] for row in rows]


def report_result(txn: SQLiteTransaction, report: ReportedResult) -> dict[str, Any] | None:
    """Record a result the job reported; the run as it stands, None for an unknown dispatch.

    Idempotent: the same report again changes nothing; a run the bridge already saw complete
    keeps its result and only gains the model version and URL.
    """
    exists = txn.conn.execute(
        "SELECT d.id, d.state, r.state AS run_state FROM dispatches d"
        " LEFT JOIN runs r ON r.dispatch_id = d.id WHERE d.id = ?",
        (report.dispatch_id,),
    ).fetchone()
    if exists is None:
        return None
    if exists["run_state"] is None:
        txn.conn.execute(
            "INSERT INTO runs (dispatch_id, route, target, state, created_at, timeout_at,"
            " verify_within, updated_at) SELECT id, route, target, ?, ?, ?, ?, ? FROM dispatches"
            " WHERE id = ?",
            (
                _WAITING_REPORT,
                report.now,
                report.now,
                report.verify_within,
                report.now,
                report.dispatch_id,
            ),
        )
    row = txn.conn.execute(
        "UPDATE runs SET model_version = COALESCE(?, model_version),"
        " reported_url = COALESCE(?, reported_url), reported_at = COALESCE(reported_at, ?),"
        " result = CASE WHEN state = 'completed' THEN result ELSE ? END,"
        " finished_at = CASE WHEN state = 'completed' THEN finished_at ELSE ? END,"
        # Not followed (or not seen to finish): from the run's start, else its dispatch, to now.
        " duration = CASE WHEN state = 'completed' THEN duration"
        " ELSE ? - COALESCE(started_at, created_at) END,"
        " next_poll_at = NULL, updated_at = ?, state = 'completed'"
        " WHERE dispatch_id = ? RETURNING route, target, state, result, duration",
        (
            report.model_version,
            report.url,
            report.now,
            report.result,
            report.now,
            report.now,
            report.now,
            report.dispatch_id,
        ),
    ).fetchone()
    if exists["run_state"] != _COMPLETED:
        _completed(txn, report.dispatch_id, row)
    return dict(row)


def settle_episodes(txn: SQLiteTransaction, now: float) -> int:
    """Judge episodes whose retraining succeeded: resolved in time, or drift persisted."""
    rows = txn.conn.execute(
        "SELECT r.dispatch_id, r.route, r.finished_at, r.verify_within, e.resolved_at"
        " FROM runs r JOIN dispatches d ON d.id = r.dispatch_id"
        " JOIN episodes e ON e.id = d.episode_id"
        " WHERE r.state = 'completed' AND r.result = 'succeeded' AND r.episode_outcome IS NULL"
        " AND (e.resolved_at IS NOT NULL OR r.finished_at + r.verify_within < ?)",
        (now,),
    ).fetchall()
    for row in rows:
        resolved = row["resolved_at"]
        in_time = resolved is not None and resolved <= row["finished_at"] + row["verify_within"]
        outcome = (
            EpisodeOutcome.RESOLVED_AFTER_RETRAINING if in_time else EpisodeOutcome.DRIFT_PERSISTED
        )
        _set_outcome(txn, row["dispatch_id"], row["route"], outcome)
    return len(rows)


def running(conn: sqlite3.Connection) -> list[tuple[str, str, int]]:
    """(route, target, runs not finished) for the running gauge."""
    rows = conn.execute(
        "SELECT route, target, COUNT(*) AS n FROM runs WHERE state != 'completed'"
        " GROUP BY route, target"
    ).fetchall()
    return [(row["route"], row["target"], row["n"]) for row in rows]


def run_of(conn: sqlite3.Connection, dispatch_id: str) -> dict[str, Any] | None:
    """The run of a dispatch for the audit API, or None."""
    row = conn.execute(
        "SELECT state, result, detail, locator, external_id, url, run_attempt, adopted,"
        " created_at, started_at, finished_at, duration, timeout_at, next_poll_at, polls,"
        " errors, last_error, model_version, reported_url, reported_at, episode_outcome"
        " FROM runs WHERE dispatch_id = ?",
        (dispatch_id,),
    ).fetchone()
    if row is None:
        return None
    return {**dict(row), "adopted": bool(row["adopted"]), "locator": from_json(row["locator"])}


def _completed(txn: SQLiteTransaction, dispatch_id: str, row: sqlite3.Row) -> None:
    labels = {"route": row["route"], "target": row["target"]}
    txn.count(metrics.RETRAININGS_TOTAL, {**labels, "result": row["result"]})
    if row["duration"] is not None:
        for bound in metrics.DURATION_BUCKETS:
            if row["duration"] <= bound:
                txn.count(metrics.RETRAINING_DURATION_BUCKET, {**labels, "le": repr(bound)})
        txn.count(metrics.RETRAINING_DURATION_BUCKET, {**labels, "le": "+Inf"})
        txn.count(metrics.RETRAINING_DURATION_SUM, labels, row["duration"])
        txn.count(metrics.RETRAINING_DURATION_COUNT, labels)
    if row["result"] != _SUCCEEDED:
        _set_outcome(txn, dispatch_id, row["route"], EpisodeOutcome.RETRAINING_FAILED)


def _set_outcome(
    txn: SQLiteTransaction, dispatch_id: str, route: str, outcome: EpisodeOutcome
) -> None:
    cursor = txn.conn.execute(
        "UPDATE runs SET episode_outcome = ? WHERE dispatch_id = ? AND episode_outcome IS NULL",
        (outcome.value, dispatch_id),
    )
    if cursor.rowcount == 1:
        txn.count(metrics.EPISODES_TOTAL, {"route": route, "outcome": outcome.value})


def failed_runs(
    conn: sqlite3.Connection, route: str, finished_before: float, limit: int = 100
) -> list[FailedRun]:
    """The route's failed runs finished before ``finished_before`` whose episode still fires."""
    rows = conn.execute(
        "SELECT r.dispatch_id, r.route, d.episode_id, d.context,"
        " (SELECT COUNT(*) FROM dispatches x WHERE x.episode_id = d.episode_id"
        " AND x.kind LIKE ?) AS n"
        " FROM runs r JOIN dispatches d ON d.id = r.dispatch_id"
        " JOIN episodes e ON e.id = d.episode_id"
        " WHERE r.route = ? AND r.state = 'completed' AND r.result != ?"
        " AND r.redispatched_as IS NULL AND e.state = 'firing' AND r.finished_at <= ?"
        " LIMIT ?",
        # (The pattern as a parameter: PostgreSQL's driver reads a literal % as a placeholder.)
        (_REDISPATCHED_KIND, route, _SUCCEEDED, finished_before, limit),
    ).fetchall()
    return [
        FailedRun(
            dispatch_id=row["dispatch_id"],
            route=row["route"],
            episode_id=row["episode_id"],
            context=json.loads(row["context"]),
            redispatches=row["n"],
        )
        for row in rows
    ]


def add_redispatch(
    txn: SQLiteTransaction, failed_dispatch_id: str, new: NewDispatch | None, number: int = 2
) -> bool:
    """Record dispatch ``number`` of an episode, made for a failed run (None: no more)."""
    cursor = txn.conn.execute(
        "UPDATE runs SET redispatched_as = ? WHERE dispatch_id = ? AND redispatched_as IS NULL",
        ("" if new is None else new.id, failed_dispatch_id),
    )
    if cursor.rowcount != 1:
        return False
    if new is not None:
        txn.add_dispatch(new, stored_kind=f"{new.kind}#{number}")
        txn.count(
            metrics.DISPATCHES_TOTAL,
            {"target": new.target, "outcome": metrics.DispatchOutcome.CREATED},
        )
    return True


def any_timed_out(conn: sqlite3.Connection, now: float) -> bool:
    """True if a run without a result is past its timeout (a read, before any write)."""
    row = conn.execute(
        "SELECT 1 FROM runs WHERE state != 'completed' AND timeout_at < ? LIMIT 1", (now,)
    ).fetchone()
    return row is not None


def any_to_settle(conn: sqlite3.Connection, now: float) -> bool:
    """True if an episode whose retraining succeeded can be judged now."""
    row = conn.execute(
        "SELECT 1 FROM runs r JOIN dispatches d ON d.id = r.dispatch_id"
        " JOIN episodes e ON e.id = d.episode_id"
        " WHERE r.state = 'completed' AND r.result = ? AND r.episode_outcome IS NULL"
        " AND (e.resolved_at IS NOT NULL OR r.finished_at + r.verify_within < ?) LIMIT 1",
        (_SUCCEEDED, now),
    ).fetchone()
    return row is not None


def any_due(conn: sqlite3.Connection, now: float) -> bool:
    """True if a run is due for a look and not leased."""
    row = conn.execute(
        "SELECT 1 FROM runs WHERE state IN ('queued', 'running') AND next_poll_at <= ?"
        " AND (lease_until IS NULL OR lease_until < ?) LIMIT 1",
        (now, now),
    ).fetchone()
    return row is not None

"""Retention: deleting old records in small batches, the same statements for both stores.

What goes, oldest first, and never anything still in use:

- dispatches that finished (succeeded, dead, dry run) before the attempts cut-off, with their
  attempts; a pending or in-flight dispatch is never touched;
- episodes resolved before the notifications cut-off that have no dispatch left, with their
  decisions; an open (firing) episode is never touched, so its resends stay duplicates;
- notifications received before the notifications cut-off that no remaining episode began with,
  with their decisions.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from bridge.metrics import STORE_PRUNED_ROWS_TOTAL


class Table(StrEnum):
    """The tables retention prunes (a metric label)."""

    NOTIFICATIONS = "notifications"
    DECISIONS = "decisions"
    EPISODES = "episodes"
    DISPATCHES = "dispatches"
    ATTEMPTS = "attempts"


@dataclass(frozen=True)
class Cutoffs:
    """Records older than these Unix times may go."""

    notifications: float
    attempts: float


class _Connection(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...


class _Transaction(Protocol):
    conn: Any

    def count(self, name: str, labels: dict[str, str], amount: float = 1.0) -> None: ...


def _ids(conn: _Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    return [row["id"] for row in conn.execute(sql, params).fetchall()]


def _delete(txn: _Transaction, table: Table, column: str, ids: list[Any]) -> int:
    if not ids:
        return 0
    marks = ", ".join("?" for _ in ids)
    deleted = int(
        txn.conn.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", ids).rowcount
    )
    if deleted:
        txn.count(STORE_PRUNED_ROWS_TOTAL, {"table": table.value}, deleted)
    return deleted


def _finished_dispatches(txn: _Transaction, cutoffs: Cutoffs, limit: int) -> dict[Table, int]:
    ids = _ids(
        txn.conn,
        "SELECT id FROM dispatches WHERE state IN ('succeeded', 'dead', 'dry_run')"
        " AND completed_at < ? ORDER BY completed_at, id LIMIT ?",
        (cutoffs.attempts, limit),
    )
    return {
        Table.ATTEMPTS: _delete(txn, Table.ATTEMPTS, "dispatch_id", ids),
        Table.DISPATCHES: _delete(txn, Table.DISPATCHES, "id", ids),
    }


def _resolved_episodes(txn: _Transaction, cutoffs: Cutoffs, limit: int) -> dict[Table, int]:
    ids = _ids(
        txn.conn,
        "SELECT id FROM episodes e WHERE state = 'resolved' AND resolved_at < ?"
        " AND NOT EXISTS (SELECT 1 FROM dispatches d WHERE d.episode_id = e.id)"
        " ORDER BY resolved_at, id LIMIT ?",
        (cutoffs.notifications, limit),
    )
    return {
        Table.DECISIONS: _delete(txn, Table.DECISIONS, "episode_id", ids),
        Table.EPISODES: _delete(txn, Table.EPISODES, "id", ids),
    }


def _old_notifications(txn: _Transaction, cutoffs: Cutoffs, limit: int) -> dict[Table, int]:
    ids = _ids(
        txn.conn,
        "SELECT id FROM notifications n WHERE received_at < ?"
        " AND NOT EXISTS (SELECT 1 FROM episodes e WHERE e.first_notification_id = n.id)"
        " ORDER BY received_at, id LIMIT ?",
        (cutoffs.notifications, limit),
    )
    return {
        Table.DECISIONS: _delete(txn, Table.DECISIONS, "notification_id", ids),
        Table.NOTIFICATIONS: _delete(txn, Table.NOTIFICATIONS, "id", ids),
    }


# In this order: a dispatch goes before its episode, an episode before its first notification.
STEPS: tuple[Callable[[_Transaction, Cutoffs, int], dict[Table, int]], ...] = (
    _finished_dispatches,
    _resolved_episodes,
    _old_notifications,
)


def prune_batch(txn: _Transaction, cutoffs: Cutoffs, limit: int) -> dict[Table, int]:
    """Delete up to ``limit`` records of each kind in one transaction; rows deleted per table."""
    total: dict[Table, int] = dict.fromkeys(Table, 0)
    for step in STEPS:
        for table, deleted in step(txn, cutoffs, limit).items():
            total[table] += deleted
    return total

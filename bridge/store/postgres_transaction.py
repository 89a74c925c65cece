"""Intake operations on one PostgreSQL transaction, sharing the SQLite store's statements.

The statements both stores run are written once (``sqlite_transaction``, ``sqlite_outbox``,
``sqlite_audit``) with ``?`` placeholders; ``QmarkConnection`` hands them to psycopg with its
``%s`` placeholders, and psycopg's dict rows read like ``sqlite3.Row``. Only what differs
(``RETURNING id`` for a new row, the counter upsert, leases with ``SKIP LOCKED``) is written here.
"""

import json
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any, cast

import psycopg

from bridge.payload import Notification
from bridge.store.records import DispatchState, NewDispatch
from bridge.store.sqlite_transaction import CounterKey, SQLiteTransaction, labels_key

# The channel a dispatch is announced on: every replica listens and claims it at once.
OUTBOX_CHANNEL = "driftbridge_outbox"
COUNTER_SHARDS = 16


@lru_cache(maxsize=256)
def _to_format(sql: str) -> str:
    # The shared statements hold no literal '?' or '%'; check rather than trust it.
    assert "%" not in sql, sql
    return sql.replace("?", "%s")


class QmarkConnection:
    """A psycopg connection that runs the shared ``?``-style statements."""

    def __init__(self, conn: psycopg.Connection[Any], defer_inserts: bool = False) -> None:
        self.pg = conn
        # Plain INSERTs (no RETURNING) held back and sent together by flush(): an intake's
        # decisions and dispatch then cost one round trip, not one each.
        self._deferred: list[tuple[str, Sequence[Any]]] | None = [] if defer_inserts else None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any] | None:
        """Run one statement (a plain INSERT may be deferred: None); the rows are dicts."""
        if self._deferred is not None and sql.startswith("INSERT") and "RETURNING" not in sql:
            self._deferred.append((_to_format(sql), params))
            return None
        return self.pg.execute(_to_format(sql), params)

    def flush(self) -> None:
        """Send the deferred INSERTs, in order, in one pipeline."""
        if not self._deferred:
            return
        deferred, self._deferred = self._deferred, []
        with self.pg.pipeline(), self.pg.cursor() as cursor:
            for sql, params in deferred:
                cursor.execute(sql, params)

    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each parameter tuple."""
        with self.pg.cursor() as cursor:
            cursor.executemany(_to_format(sql), params)


class PostgresTransaction(SQLiteTransaction):
    """Intake operations on one open PostgreSQL transaction (see ``SQLiteTransaction``)."""

    def __init__(self, conn: psycopg.Connection[Any], defer_inserts: bool = False) -> None:
        self.qmark = QmarkConnection(conn, defer_inserts)
        super().__init__(cast(Any, self.qmark))
        self.pg = conn
        self.dispatched = False  # a dispatch was added: announce it when this commits

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
        row = self.pg.execute(
            "INSERT INTO notifications (received_at, receiver, status, group_key, external_url,"
            " alert_count, truncated_alerts, remote_addr, user_agent, payload)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
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
        ).fetchone()
        assert row is not None
        return int(row["id"])

    def add_dispatch(self, dispatch: NewDispatch) -> None:
        """Put a dispatch in the outbox; replicas hear of it when the transaction commits."""
        super().add_dispatch(dispatch)
        # A dry run or a dispatch that could not be built is never sent: no one to wake.
        self.dispatched = self.dispatched or dispatch.state == DispatchState.PENDING


def write_counts(conn: psycopg.Connection[Any], counts: Mapping[CounterKey, float]) -> None:
    """Add ``counts`` to one shard of the counters table.

    Every transaction counts something, often the same thing: with one row per counter, each
    would wait for the one before to commit (its fsync included). A random shard of 16 lets most
    go side by side; reads sum the shards. Rows go in key order so that writers never deadlock.
    """
    if not counts:
        return
    shard = random.randrange(COUNTER_SHARDS)
    rows = sorted(
        (name, labels_key(dict(labels)), shard, amount) for (name, labels), amount in counts.items()
    )
    with conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO counters (name, labels, shard, value) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (name, labels, shard)"
            " DO UPDATE SET value = counters.value + excluded.value",
            rows,
        )


def read_counts(conn: psycopg.Connection[Any]) -> Iterator[tuple[str, dict[str, str], float]]:
    """Every counter, its shards summed: (name, labels, value)."""
    rows = conn.execute(
        "SELECT name, labels, SUM(value) AS value FROM counters GROUP BY name, labels ORDER BY name"
    ).fetchall()
    for row in rows:
        yield row["name"], json.loads(row["labels"]), row["value"]


def announce(conn: psycopg.Connection[Any]) -> None:
    """Tell every listening replica, at commit, that a dispatch is due."""
    conn.execute(f"NOTIFY {OUTBOX_CHANNEL}")

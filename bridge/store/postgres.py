"""The shared store: one PostgreSQL database behind any number of bridge replicas.

The guarantees are SQLite's, now across replicas. An intake names what its decisions may
create (an episode, the cooldown it checks); the batch holding it takes those transaction-scoped
advisory locks first, in one global order, so deciding about one episode (look, then insert) is
serialised across every replica while intakes about other episodes go side by side, and the
unique key on (route, fingerprint, startsAt) refuses a second episode anyway. Each process runs a
few writers, each committing the intakes waiting at one moment together. Dispatches are leased
with ``FOR UPDATE SKIP LOCKED`` and announced with NOTIFY, so that some replica claims a new one
at once. Counters are written in the transactions they count (in shards, summed when read), so
the ``/metrics`` of every replica show the fleet's totals.
"""

import hashlib
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

import psycopg
import psycopg_pool
from psycopg.rows import dict_row

from bridge.store import postgres_outbox, sqlite_audit, sqlite_outbox, sqlite_runs
from bridge.store.base import OutboxStats, StoreError
from bridge.store.migrations import pending
from bridge.store.postgres_listen import OutboxListener
from bridge.store.postgres_schema import MIGRATIONS
from bridge.store.postgres_transaction import (
    PostgresTransaction,
    QmarkConnection,
    announce,
    read_counts,
    write_counts,
)
from bridge.store.pruning import Cutoffs, Table, prune_batch
from bridge.store.records import (
    AttemptRecord,
    ClaimedDispatch,
    DispatchSummary,
    DispatchTrail,
    Episode,
    EpisodeKey,
    Requeue,
    RequeueSource,
)
from bridge.store.run_queries import RunQueries
from bridge.store.run_records import FollowedRun
from bridge.store.settings import PostgresSettings
from bridge.store.sqlite_transaction import count_batch

log = logging.getLogger(__name__)
T = TypeVar("T")

# pg_advisory_xact_lock keys: the intake's decisions, and schema migrations.
INTAKE_LOCK = 0x6472_6966_7401
SCHEMA_LOCK = 0x6472_6966_7402
# At most this many intakes share one commit.
_MAX_BATCH = 64
# Transactions of one process in flight at once: while one waits for its commit's fsync, the
# next batch is decided (PostgreSQL flushes concurrent commits together).
_WRITERS = 3


class _Job:
    def __init__(self, work: Callable[[PostgresTransaction], Any], locks: Sequence[str]) -> None:
        self.work = work
        self.locks = locks
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = threading.Event()


class PostgresStore(RunQueries):
    """The store in a PostgreSQL database; safe to share between threads, processes, hosts.

    >>> store = PostgresStore(settings)          # creates or upgrades the schema
    >>> notification_id = store.atomically(lambda txn: txn.add_notification(...))
    """

    def __init__(self, settings: PostgresSettings, migrate: bool = True) -> None:
        self.settings = settings
        self.where = settings.display
        self._pool = psycopg_pool.ConnectionPool(
            settings.url,
            # Called for every new connection: a rotated password file takes effect without a
            # restart, as for every other secret.
            kwargs=self._connect_kwargs,
            min_size=1,
            max_size=settings.pool_size,
            timeout=settings.connect_timeout,
            open=False,
            name="drift-bridge",
        )
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._writers: list[threading.Thread] = []
        self._writer_lock = threading.Lock()
        self._checker: threading.Thread | None = None
        self._listener = OutboxListener(self._connect, self.where)
        try:
            # One connection of our own first: the pool would only say that it timed out, this
            # says why (no such host, password authentication failed, ...).
            with _errors(self.where):
                self._connect().close()
            self._pool.open(wait=True, timeout=max(settings.connect_timeout, 5.0))
            self.migrate() if migrate else self.schema_version()
        except BaseException:
            self._pool.close()
            raise

    def _connect_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "autocommit": True,
            "row_factory": dict_row,
            "connect_timeout": max(1, round(self.settings.connect_timeout)),
            "application_name": "drift-bridge",
        }
        if self.settings.password is not None:
            kwargs["password"] = self.settings.password.get()
        return kwargs

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.settings.url, **self._connect_kwargs())

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self._pool.connection() as conn:
                yield conn
        except (psycopg.Error, psycopg_pool.PoolTimeout) as err:
            if isinstance(err, psycopg.OperationalError):
                self._check_pool()
            raise StoreError(f"store {self.where}: {_reason(err)}") from err

    def _check_pool(self) -> None:
        # The database went away (a restart): every idle connection is dead too. Check them all
        # once, in the background, rather than fail one request on each.
        with self._writer_lock:
            if self._checker is not None and self._checker.is_alive():
                return
            self._checker = threading.Thread(
                target=self._pool.check, name="pool-check", daemon=True
            )
            self._checker.start()

    # --- schema ------------------------------------------------------------------------------

    def schema_version(self) -> int:
        """The version recorded in the database (0: empty); StoreError if newer than the code."""
        with self._connection() as conn:
            found = _read_version(conn)
        pending(found, MIGRATIONS, self.where)
        return found

    def migrate(self) -> list[int]:
        """Create or upgrade the schema; replicas starting together wait for one another."""
        with self._connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            found = _read_version(conn)
            steps = pending(found, MIGRATIONS, self.where)
            for step in steps:
                log.info("store %s: schema %d: %s", self.where, step.version, step.description)
                conn.execute(step.sql.encode())
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', %s)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(step.version),),
                )
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('store_id', %s)"
                " ON CONFLICT (key) DO NOTHING",
                (uuid.uuid4().hex,),
            )
        return [step.version for step in steps]

    def identity(self) -> str:
        """A random id made with the database's schema: the same on every replica."""
        row = self._read(
            lambda conn: conn.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()
        )
        return str(row["value"])

    # --- writes ------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[PostgresTransaction]:
        """A write transaction of its own, serialised with intakes: committed at the end."""
        with self._connection() as conn, _errors(self.where), conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (INTAKE_LOCK,))
            txn = PostgresTransaction(conn)
            yield txn
            _close(conn, txn)

    @contextmanager
    def _intake_transaction(self, batch: list[_Job]) -> Iterator[PostgresTransaction]:
        # Every lock of the batch first, in one order for every writer of every replica, so
        # that two batches never wait for each other in a circle.
        keys = sorted({_lock_key(name) for job in batch for name in job.locks})
        with self._connection() as conn, _errors(self.where), conn.transaction():
            if keys:
                conn.execute(
                    "SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k", (keys,)
                )
            txn = PostgresTransaction(conn)
            yield txn
            _close(conn, txn)

    @contextmanager
    def _outbox_write(self) -> Iterator[PostgresTransaction]:
        # Outbox changes touch rows no intake decides on: no intake lock.
        with self._connection() as conn, _errors(self.where), conn.transaction():
            txn = PostgresTransaction(conn)
            yield txn
            _close(conn, txn)

    def atomically(self, work: Callable[[PostgresTransaction], T], locks: Sequence[str] = ()) -> T:
        """Run ``work`` in a write transaction shared with concurrent callers; durable on return.

        ``work``'s writes are all committed or, if it raises, all rolled back; its exception is
        raised here. A failed commit raises StoreError. ``locks`` (what ``work`` decides on)
        are held for the transaction: intakes about other episodes go side by side.
        """
        self._start_writers()
        job = _Job(work, locks)
        self._jobs.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        result: T = job.result
        return result

    def _start_writers(self) -> None:
        if len(self._writers) == _WRITERS and all(w.is_alive() for w in self._writers):
            return
        with self._writer_lock:
            self._writers = [w for w in self._writers if w.is_alive()]
            while len(self._writers) < _WRITERS:
                writer = threading.Thread(
                    target=self._write_batches, name="store-writer", daemon=True
                )
                writer.start()
                self._writers.append(writer)

    def _write_batches(self) -> None:
        while True:
            batch = [self._jobs.get()]
            while len(batch) < _MAX_BATCH:
                try:
                    batch.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            try:
                self._commit(batch)
            except BaseException as err:  # the writer must survive anything
                failure = err if isinstance(err, StoreError) else StoreError(f"{err}")
                for job in batch:
                    job.error, job.result = job.error or failure, None
            finally:
                for job in batch:
                    job.done.set()

    def _commit(self, batch: list[_Job]) -> None:
        # Optimistically without savepoints (two round trips per intake saved): when any intake
        # fails, the whole transaction is rolled back and the batch runs again, each intake in a
        # savepoint of its own, so that the failing one is rolled back alone.
        failed: list[BaseException] = []
        try:
            with self._intake_transaction(batch) as outer:
                count_batch(outer.counts, len(batch))
                results = []
                for job in batch:
                    txn = PostgresTransaction(outer.pg, defer_inserts=True)
                    try:
                        results.append(job.work(txn))
                        txn.qmark.flush()
                    except Exception as err:
                        failed.append(err)
                        raise
                    _merge(outer, txn)
        except Exception:
            # A failed commit fails the batch (StoreError for every intake, as in SQLite): only
            # an intake's own failure is worth running the others again for.
            if not failed:
                raise
            self._commit_one_by_one(batch)
            return
        for job, result in zip(batch, results, strict=True):
            job.result = result

    def _commit_one_by_one(self, batch: list[_Job]) -> None:
        with self._intake_transaction(batch) as outer:
            count_batch(outer.counts, len(batch))
            for job in batch:
                txn = PostgresTransaction(outer.pg, defer_inserts=True)
                try:
                    with outer.pg.transaction():  # a savepoint: a failing intake alone
                        job.result = job.work(txn)
                        txn.qmark.flush()
                except psycopg.Error as err:
                    job.error = StoreError(f"store {self.where}: {_reason(err)}")
                except Exception as err:
                    job.error = err
                if job.error is None:
                    _merge(outer, txn)

    # --- the outbox --------------------------------------------------------------------------

    def claim_due(
        self, now: float, owner: str, lease_seconds: float, limit: int
    ) -> list[ClaimedDispatch]:
        """Lease up to ``limit`` dispatches due now (or whose lease expired) for one attempt."""
        with self._outbox_write() as txn:
            return postgres_outbox.claim_due(txn, now, owner, lease_seconds, limit)

    def renew_leases(self, owner: str, dispatch_ids: list[str], until: float) -> None:
        """Keep the leases of attempts still in flight."""
        with self._outbox_write() as txn:
            sqlite_outbox.renew_leases(txn.conn, owner, dispatch_ids, until)

    def finish_attempt(self, record: AttemptRecord, owner: str, target: str) -> None:
        """Record an attempt and move its dispatch on (succeeded, pending again, or dead)."""
        with self._outbox_write() as txn:
            sqlite_outbox.finish_attempt(txn, record, owner, target)

    def requeue(self, requeue: Requeue) -> bool:
        """Send a dead dispatch again from now; False if it is not dead or cannot be built."""
        with self._outbox_write() as txn:
            requeued = sqlite_outbox.requeue(txn, requeue)
            txn.dispatched = requeued
            return requeued

    # --- retraining runs (the SQL is sqlite_runs', but for leasing) ------------------------

    def claim_runs(
        self, now: float, owner: str, lease_seconds: float, limit: int
    ) -> list[FollowedRun]:
        """Lease up to ``limit`` retraining runs due for a look."""
        if not self._read(sqlite_runs.any_due, now):
            return []
        with self._outbox_write() as txn:
            return postgres_outbox.claim_runs(txn, now, owner, lease_seconds, limit)

    def watch_outbox(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` whenever any replica puts a dispatch in the outbox."""
        self._listener.subscribe(wake)

    def prune(self, cutoffs: Cutoffs, limit: int) -> dict[Table, int]:
        """Delete one batch of records retention lets go (see ``pruning``); rows per table."""
        with self.transaction() as txn:
            return prune_batch(txn, cutoffs, limit)

    # --- reads -------------------------------------------------------------------------------

    def _run_write(self) -> AbstractContextManager[PostgresTransaction]:
        return self._outbox_write()

    def _read(self, query: Callable[..., T], *args: Any) -> T:
        with self._connection() as conn, _errors(self.where):
            return query(QmarkConnection(conn), *args)

    def find_episode(self, key: EpisodeKey) -> Episode | None:
        """The episode of ``key``, read outside any write transaction (it may be a moment old)."""
        return self._read(lambda conn: PostgresTransaction(conn.pg).find_episode(key))

    def dispatch_for_retry(self, dispatch_id: str) -> RequeueSource | None:
        """Route, target, context and state of a dispatch, to prepare it again."""
        return self._read(sqlite_audit.dispatch_for_retry, dispatch_id)

    def list_dispatches(
        self, state: str | None, route: str | None, limit: int, offset: int
    ) -> list[DispatchSummary]:
        """Dispatches, newest first, for the audit API."""
        return self._read(sqlite_audit.list_dispatches, state, route, limit, offset)

    def get_dispatch(self, dispatch_id: str) -> DispatchTrail | None:
        """One dispatch with its alert, decisions and attempts, for the audit API."""
        return self._read(sqlite_audit.get_dispatch, dispatch_id)

    def counters(self) -> Iterator[tuple[str, dict[str, str], float]]:
        """Every counter: (name, labels, value)."""
        return iter(self._read(lambda conn: list(read_counts(conn.pg))))

    def outbox(self, now: float) -> OutboxStats:
        """Pending dispatches and the age of the oldest."""
        return self._read(sqlite_audit.outbox_stats, now)

    def ping(self) -> None:
        """Raise StoreError unless the database can record: a write, committed."""
        # A read succeeds on a standby after a failover, or with the disk full.
        with self._outbox_write() as txn:
            txn.pg.execute(
                "INSERT INTO meta (key, value) VALUES ('write_probe', %s)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (repr(time.time()),),
            )

    def close(self) -> None:
        """Stop listening and close every connection."""
        self._listener.stop()
        self._pool.close()


def _lock_key(name: str) -> int:
    """A name as a signed 64-bit advisory lock key."""
    return int.from_bytes(
        hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True
    )


def _merge(outer: PostgresTransaction, txn: PostgresTransaction) -> None:
    for key, amount in txn.counts.items():
        outer.counts[key] = outer.counts.get(key, 0.0) + amount
    outer.dispatched = outer.dispatched or txn.dispatched


def _close(conn: psycopg.Connection[Any], txn: PostgresTransaction) -> None:
    write_counts(conn, txn.counts)
    if txn.dispatched:
        announce(conn)


def _read_version(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(
        "SELECT value FROM meta WHERE key = 'schema_version'"
        if conn.execute("SELECT to_regclass('meta') AS t").fetchone()["t"]  # type: ignore[index]
        else "SELECT NULL AS value WHERE false"
    ).fetchone()
    return 0 if row is None else int(row["value"])


def _reason(err: BaseException) -> str:
    # psycopg's messages name the host, port and user, never the password.
    return str(err).strip() or type(err).__name__


@contextmanager
def _errors(where: str) -> Iterator[None]:
    try:
        yield
    except psycopg.Error as err:
        raise StoreError(f"store {where}: {_reason(err)}") from err

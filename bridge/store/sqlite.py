"""The embedded default store: one SQLite file in WAL mode, shared by every server process.

Durability: ``synchronous=FULL``, so a committed transaction survives power loss, which is what
the 2xx to Alertmanager promises. Writers queue on a lock (a thread lock, then ``flock`` between
processes) rather than in SQLite, whose busy handler sleeps up to 100 ms between tries.

Intakes are committed in groups: each process has one writer thread that takes every intake
waiting, runs each in a savepoint of one transaction, and commits once. One fsync then serves
many webhooks, and a failing intake is rolled back alone. The UNIQUE constraint on (route,
fingerprint, startsAt) makes the second firing notification of an episode a duplicate, whichever
process receives it.

Faults of the disk clear by themselves. A connection opened while the file could not be written
is read-only for good, and one open on a file that was removed writes into the void: so every
connection remembers the file (device, inode) it opened, each operation checks that the file at
the path is still that one, and a connection that hit a fault (read-only, I/O error, disk full,
file moved) is reopened, in every thread, at its next use. A store file that disappeared is not
created again: its history (which episodes were dispatched) would be lost, so the store answers
errors until the file is back.
"""

import fcntl
import logging
import os
import queue
import sqlite3
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bridge.store import sqlite_audit, sqlite_outbox, sqlite_runs
from bridge.store.base import OutboxStats, StoreError
from bridge.store.migrations import pending
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
from bridge.store.schema import MIGRATIONS, read_version
from bridge.store.sqlite_transaction import SQLiteTransaction, count_batch, write_counts

log = logging.getLogger(__name__)
T = TypeVar("T")

# At most this many intakes share one commit.
_MAX_BATCH = 64
# How often the WAL is copied back into the database file, off the intake's path.
_CHECKPOINT_INTERVAL = 1.0
# Errors after which a connection cannot be trusted any more (SQLite's extended codes start with
# these): read-only for good, an I/O error, a full disk, a file that moved, or is not ours.
_FAULTS = (
    "SQLITE_READONLY",
    "SQLITE_IOERR",
    "SQLITE_FULL",
    "SQLITE_CANTOPEN",
    "SQLITE_CORRUPT",
    "SQLITE_NOTADB",
)


def is_fault(err: sqlite3.Error) -> bool:
    """True when ``err`` means the connection must be reopened (not a constraint or a bug)."""
    name = getattr(err, "sqlite_errorname", "") or ""
    return name.startswith(_FAULTS)


def _private(path: Path) -> None:
    # SQLite gives the WAL and shared-memory files the mode of the database file: creating that
    # one 0600 keeps all three private (the store holds alerts, requests and target answers).
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))


@dataclass
class _Connection:
    conn: sqlite3.Connection
    pid: int
    generation: int
    # The file this connection opened, (st_dev, st_ino).
    identity: tuple[int, int]
    # False when opened while the file could not be written: SQLite then opens it read-only,
    # for good, so the connection is replaced as soon as the file is writable again.
    writable: bool


class _Job:
    def __init__(self, work: Callable[[SQLiteTransaction], Any]) -> None:
        self.work = work
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = threading.Event()


class SQLiteStore(RunQueries):
    """The store in one SQLite file; safe to share between threads and processes.

    >>> store = SQLiteStore(Path("/var/lib/drift-bridge/bridge.db"))
    >>> notification_id = store.atomically(lambda txn: txn.add_notification(...))
    """

    def __init__(self, path: Path, busy_timeout: float = 10.0) -> None:
        self.path = path
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._lock_file: int | None = None
        self._pid = 0
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._checkpointer: threading.Thread | None = None
        # Bumped on a fault: every thread reopens its connection at its next use.
        self._generation = 0
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                _private(path)
            self._forked()
            self.migrate()
        except (sqlite3.Error, OSError) as err:
            raise StoreError(f"cannot open the store {path}: {err}") from err

    # --- schema ------------------------------------------------------------------------------

    def schema_version(self) -> int:
        """The version recorded in the file (0: empty); StoreError if newer than the code."""
        found = read_version(self._conn())
        pending(found, MIGRATIONS, str(self.path))
        return found

    def migrate(self) -> list[int]:
        """Create or upgrade the schema in one transaction; processes starting together wait."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            steps = pending(read_version(conn), MIGRATIONS, str(self.path))
            for step in steps:
                log.info("store %s: schema %d: %s", self.path, step.version, step.description)
                # One statement at a time: executescript() would commit what came before.
                for statement in filter(str.strip, step.sql.split(";")):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(step.version),),
                )
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('store_id', ?) ON CONFLICT (key) DO NOTHING",
                (uuid.uuid4().hex,),
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return [step.version for step in steps]

    def identity(self) -> str:
        """A random id made with the store: the same for every process that shares the file."""
        row = self._read(
            lambda conn: conn.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()
        )
        return str(row[0])

    # --- connections and locks -----------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        """This thread's connection, reopened after a fault; raises StoreError if it cannot be."""
        held: _Connection | None = getattr(self._local, "held", None)
        # A connection must never cross a fork: gunicorn workers each open their own.
        if (
            held is not None
            and held.pid == os.getpid()
            and held.generation == self._generation
            and (held.writable or not os.access(self.path, os.W_OK))
        ):
            self._check_identity(held)
            return held.conn
        self._drop_connection()
        generation = self._generation
        writable = os.access(self.path, os.W_OK)
        # Never creates the file: a store that disappeared is not replaced by an empty one.
        uri = f"file:{urllib.parse.quote(str(self.path))}?mode=rw"
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=self._busy_timeout, isolation_level=None)
        except sqlite3.Error as err:
            raise StoreError(self._missing() or f"store {self.path}: {err}") from err
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            # Checkpoints (copying the WAL into the database, with an fsync of its own) would
            # otherwise run inside whichever commit crosses 1000 pages: tens of milliseconds
            # added to one webhook. A background thread does them instead.
            conn.execute("PRAGMA wal_autocheckpoint = 0")
            stat = os.stat(self.path)
        except (sqlite3.Error, OSError) as err:
            conn.close()
            raise StoreError(self._missing() or f"store {self.path}: {err}") from err
        self._local.held = _Connection(
            conn, os.getpid(), generation, (stat.st_dev, stat.st_ino), writable
        )
        return conn

    def _check_identity(self, held: _Connection) -> None:
        try:
            stat = os.stat(self.path)
        except OSError:
            stat = None
        if stat is None or (stat.st_dev, stat.st_ino) != held.identity:
            # Writes would go to a file nobody will ever read again: lost at the next restart.
            self._reopen_all()
            raise StoreError(
                self._missing()
                or f"store {self.path}: the file was replaced while open; reopening it"
            )

    def _missing(self) -> str | None:
        if self.path.exists():
            return None
        return (
            f"store {self.path}: the file is missing (removed while running?); answering errors "
            "until it is restored (a restart creates an empty store, forgetting which episodes "
            "were dispatched)"
        )

    def _drop_connection(self) -> None:
        held: _Connection | None = getattr(self._local, "held", None)
        self._local.held = None
        if held is not None and held.pid == os.getpid():
            with suppress(sqlite3.Error):
                held.conn.close()

    def _reopen_all(self) -> None:
        """After a fault: this thread's connection now, every other thread's at its next use."""
        self._generation += 1
        self._drop_connection()

    def _failed(self, err: sqlite3.Error) -> StoreError:
        """The StoreError for ``err``, reopening connections when it is a fault of the disk."""
        if is_fault(err):
            self._reopen_all()
        return StoreError(self._missing() or f"store {self.path}: {err}")

    def _forked(self) -> bool:
        if self._pid == os.getpid():
            return False
        # After a fork: the parent's lock descriptor, writer thread and queue are not ours.
        self._pid = os.getpid()
        self._lock_file = os.open(f"{self.path}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
        self._write_lock = threading.Lock()
        self._jobs = queue.SimpleQueue()
        self._writer = None
        self._checkpointer = None
        return True

    def _start_threads(self) -> None:
        """The writer and the checkpointer of this process, started on first use."""
        self._forked()
        if self._writer is not None and self._writer.is_alive():
            return
        with self._write_lock:
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(
                    target=self._write_batches, name="store-writer", daemon=True
                )
                self._writer.start()
            if self._checkpointer is None or not self._checkpointer.is_alive():
                self._checkpointer = threading.Thread(
                    target=self._checkpoint, name="store-checkpoint", daemon=True
                )
                self._checkpointer.start()

    def _checkpoint(self) -> None:
        last_problem = ""
        while True:
            time.sleep(_CHECKPOINT_INTERVAL)
            try:
                # PASSIVE never waits for (nor blocks) readers and writers.
                try:
                    self._conn().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error as err:
                    raise self._failed(err) from err
            except StoreError as err:
                # Once per problem, not every second while it lasts.
                if str(err) != last_problem:
                    log.warning(
                        "checkpoint failed (retried every %gs): %s", _CHECKPOINT_INTERVAL, err
                    )
                last_problem = str(err)
                continue
            if last_problem:
                log.warning("store %s: checkpoints work again", self.path)
            last_problem = ""

    @contextmanager
    def _write(self) -> Iterator[SQLiteTransaction]:
        """A write transaction; counters are written with it. Raises StoreError on failure."""
        self._start_threads()
        assert self._lock_file is not None
        with self._write_lock:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX)
            try:
                conn = self._conn()
                try:
                    conn.execute("BEGIN IMMEDIATE")
                except sqlite3.Error as err:
                    raise self._failed(err) from err
                try:
                    txn = SQLiteTransaction(conn)
                    yield txn
                    write_counts(conn, txn.counts)
                    conn.execute("COMMIT")
                except BaseException as err:
                    self._rollback(conn)
                    if isinstance(err, sqlite3.Error):
                        raise self._failed(err) from err
                    raise
            finally:
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    def _rollback(self, conn: sqlite3.Connection) -> None:
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error as err:
            # The connection is unusable; the next operation opens a new one.
            self._failed(err)

    @contextmanager
    def transaction(self) -> Iterator[SQLiteTransaction]:
        """A write transaction of its own: committed at the end of the block."""
        with self._write() as txn:
            yield txn

    # --- group commit ----------------------------------------------------------------------

    def atomically(self, work: Callable[[SQLiteTransaction], T], locks: Sequence[str] = ()) -> T:
        """Run ``work`` in a write transaction shared with concurrent callers; durable on return.

        ``locks`` are not needed here: one writer at a time decides.

        ``work``'s writes are all committed or, if it raises, all rolled back; its exception is
        raised here. A failed commit raises StoreError.
        """
        self._start_threads()
        job = _Job(work)
        self._jobs.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        result: T = job.result
        return result

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
                failure = (
                    err if isinstance(err, StoreError) else StoreError(f"store {self.path}: {err}")
                )
                for job in batch:
                    job.error, job.result = job.error or failure, None
            finally:
                for job in batch:
                    job.done.set()

    def _commit(self, batch: list[_Job]) -> None:
        with self._write() as outer:
            count_batch(outer.counts, len(batch))
            conn = outer.conn
            for job in batch:
                conn.execute("SAVEPOINT intake")
                txn = SQLiteTransaction(conn)
                try:
                    job.result = job.work(txn)
                except sqlite3.Error as err:
                    job.error = self._failed(err)
                except Exception as err:
                    job.error = err
                if job.error is None:
                    for key, amount in txn.counts.items():
                        outer.counts[key] = outer.counts.get(key, 0.0) + amount
                else:
                    conn.execute("ROLLBACK TO intake")
                conn.execute("RELEASE intake")

    # --- the outbox --------------------------------------------------------------------

    def claim_due(
        self, now: float, owner: str, lease_seconds: float, limit: int
    ) -> list[ClaimedDispatch]:
        """Lease up to ``limit`` dispatches due now (or whose lease expired) for one attempt."""
        with self.transaction() as txn:
            return sqlite_outbox.claim_due(txn, now, owner, lease_seconds, limit)

    def renew_leases(self, owner: str, dispatch_ids: list[str], until: float) -> None:
        """Keep the leases of attempts still in flight."""
        with self.transaction() as txn:
            sqlite_outbox.renew_leases(txn.conn, owner, dispatch_ids, until)

    def finish_attempt(self, record: AttemptRecord, owner: str, target: str) -> None:
        """Record an attempt and move its dispatch on (succeeded, pending again, or dead)."""
        with self.transaction() as txn:
            sqlite_outbox.finish_attempt(txn, record, owner, target)

    def requeue(self, requeue: Requeue) -> bool:
        """Send a dead dispatch again from now; False if it is not dead or cannot be built."""
        with self.transaction() as txn:
            return sqlite_outbox.requeue(txn, requeue)

    # --- retraining runs ------------------------------------------------------------------

    def claim_runs(
        self, now: float, owner: str, lease_seconds: float, limit: int
    ) -> list[FollowedRun]:
        """Lease up to ``limit`` retraining runs due for a look."""
        if not self._read(sqlite_runs.any_due, now):
            return []
        with self.transaction() as txn:
            return sqlite_runs.claim_runs(txn.conn, now, owner, lease_seconds, limit)

    def watch_outbox(self, wake: Callable[[], None]) -> None:
        """Nothing to watch: the processes of one host find new dispatches by polling."""

    def prune(self, cutoffs: Cutoffs, limit: int) -> dict[Table, int]:
        """Delete one batch of records retention lets go (see ``pruning``); rows per table."""
        with self.transaction() as txn:
            return prune_batch(txn, cutoffs, limit)

    # --- reads -------------------------------------------------------------------------

    def _run_write(self) -> AbstractContextManager[SQLiteTransaction]:
        return self.transaction()

    def _read(self, query: Callable[..., T], *args: Any) -> T:
        try:
            return query(self._conn(), *args)
        except sqlite3.Error as err:
            raise self._failed(err) from err

    def find_episode(self, key: EpisodeKey) -> Episode | None:
        """The episode of ``key``, read outside any write transaction (it may be a moment old)."""
        return self._read(lambda conn: SQLiteTransaction(conn).find_episode(key))

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
        return iter(self._read(lambda conn: list(sqlite_audit.counters(conn))))

    def outbox(self, now: float) -> OutboxStats:
        """Pending dispatches and the age of the oldest."""
        return self._read(sqlite_audit.outbox_stats, now)

    def ping(self) -> None:
        """Raise StoreError unless the store can record: a write, committed, as an intake's."""
        # A read would succeed on a read-only disk, a full one, or a file removed while open.
        with self.transaction() as txn:
            txn.conn.execute(
                "INSERT INTO meta (key, value) VALUES ('write_probe', ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (repr(time.time()),),
            )

    def close(self) -> None:
        """Close this thread's connection."""
        self._drop_connection()

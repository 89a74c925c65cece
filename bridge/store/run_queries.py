"""The run-tracking methods both stores share: the SQL is ``sqlite_runs``', which both speak.

A store mixes this in and says how it reads (``_read``) and opens a write for the outbox and
runs (``_run_write``); only leasing runs differs between them, so each store claims its own.
"""

from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from bridge.store import sqlite_runs
from bridge.store.records import NewDispatch
from bridge.store.run_records import FailedRun, ReportedResult, RunUpdate

T = TypeVar("T")


class RunQueries(ABC):
    """Following retraining runs: looks, timeouts, verdicts, reports and redispatches."""

    @abstractmethod
    def _read(self, query: Callable[..., T], *args: Any) -> T:
        """Run a read query on a connection of the store's."""

    @abstractmethod
    def _run_write(self) -> AbstractContextManager[Any]:
        """A write transaction for the outbox and runs, committed at the end of the block."""

    def update_run(self, update: RunUpdate, owner: str) -> bool:
        """Record one look at a run; False if the lease was lost (nothing recorded)."""
        with self._run_write() as txn:
            return sqlite_runs.update_run(txn, update, owner)

    def time_out_runs(self, now: float) -> list[str]:
        """Runs past their result timeout become timed_out; their dispatch ids."""
        # Asked every second by every process: a read first, a write (and its fsync) only
        # when there is something to write.
        if not self._read(sqlite_runs.any_timed_out, now):
            return []
        with self._run_write() as txn:
            return sqlite_runs.time_out_runs(txn, now)

    def settle_episodes(self, now: float) -> int:
        """Judge episodes whose retraining succeeded (resolved in time, or drift persisted)."""
        if not self._read(sqlite_runs.any_to_settle, now):
            return 0
        with self._run_write() as txn:
            return sqlite_runs.settle_episodes(txn, now)

    def report_result(self, report: ReportedResult) -> dict[str, Any] | None:
        """Record a result reported by the job (idempotent); None for an unknown dispatch."""
        with self._run_write() as txn:
            return sqlite_runs.report_result(txn, report)

    def failed_runs(self, route: str, finished_before: float) -> list[FailedRun]:
        """The route's failed runs finished before then whose episode still fires."""
        return self._read(sqlite_runs.failed_runs, route, finished_before)

    def add_redispatch(
        self, failed_dispatch_id: str, new: NewDispatch | None, number: int = 2
    ) -> bool:
        """Record dispatch ``number`` of an episode, made by on_failure (None: no more)."""
        with self._run_write() as txn:
            # add_dispatch marks the transaction, so that replicas hear of the new dispatch.
            return sqlite_runs.add_redispatch(txn, failed_dispatch_id, new, number)

    def running_runs(self) -> list[tuple[str, str, int]]:
        """(route, target, runs not finished), for the running gauge."""
        return self._read(sqlite_runs.running)

    def get_run(self, dispatch_id: str) -> dict[str, Any] | None:
        """The run of a dispatch, for the audit API."""
        return self._read(sqlite_runs.run_of, dispatch_id)

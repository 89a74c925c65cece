"""The outbox worker: sends pending dispatches after the webhook was acknowledged.

All automatic backoff lives here. A target makes one attempt; on a retryable error the dispatch
waits (exponential backoff with jitter, at least what the target asked for, see
:mod:`bridge.backoff`) and is tried again until its deadline, after which it is dead-lettered; a
permanent error dead-letters it at once. Dead letters stay visible and can be retried by hand
(:mod:`bridge.dead_letters`: ``drift-bridge dispatches retry``, or
``POST /api/dispatches/<id>/retry``).

Every server process runs one dispatcher. Dispatches are leased in the store, so each attempt is
made by exactly one process; leases of attempts in flight are renewed, and a lease left by a
process that died expires and the dispatch is taken over.
"""

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bridge.config import BridgeConfig
from bridge.credentials import redact, redact_values
from bridge.store import Store, StoreError
from bridge.store.records import AttemptOutcome, AttemptRecord, ClaimedDispatch
from bridge.targets import DispatchError, FailureReason

log = logging.getLogger(__name__)

# When stopping, an attempt that could not be recorded yet is given this long more (seconds).
_RECORD_WHEN_STOPPING = 10.0


class Dispatcher:
    """Claims due dispatches from the store and sends them on a small thread pool.

    >>> dispatcher = Dispatcher(store, config)
    >>> dispatcher.start()
    >>> dispatcher.wake()      # after an intake created a dispatch: send it now
    >>> dispatcher.stop()
    """

    def __init__(
        self,
        store: Store,
        config: BridgeConfig,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._config = config
        self._clock = clock
        self._rng = rng or random.Random()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(config.dispatch.concurrency, thread_name_prefix="dispatch")
        self._lock = threading.Lock()
        self._in_flight: set[str] = set()

    def start(self) -> None:
        """Start the background loop; dispatches other processes create wake it too."""
        self._store.watch_outbox(self.wake)
        self._thread = threading.Thread(target=self._loop, name="dispatcher", daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        """True while the loop runs (readiness)."""
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        """Look for due dispatches now instead of at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 20.0) -> None:
        """Stop claiming; give attempts in flight ``timeout`` seconds, then interrupt them.

        An interrupted attempt (a long command) is recorded as retryable and made again after
        the restart. Left running, it would outlive this process and its lease, and a second run
        of the same job would start beside it.
        """
        deadline = time.monotonic() + timeout
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        renewed = time.monotonic()
        while self._in_flight_ids() and time.monotonic() < deadline:
            if time.monotonic() - renewed > self._config.dispatch.lease / 3:
                self._renew_leases()
                renewed = time.monotonic()
            time.sleep(0.05)
        if self._in_flight_ids():
            log.warning(
                "stopping: interrupting %d attempt(s) still running", len(self._in_flight_ids())
            )
            for target in self._config.targets.values():
                target.interrupt()
        self._pool.shutdown(wait=True, cancel_futures=False)

    def _in_flight_ids(self) -> list[str]:
        with self._lock:
            return list(self._in_flight)

    def run_once(self) -> list[str]:
        """Claim what is due and submit it; returns the claimed dispatch ids."""
        with self._lock:
            free = self._config.dispatch.concurrency - len(self._in_flight)
        if free <= 0:
            return []
        claimed = self._store.claim_due(
            self._clock(), self.owner, self._config.dispatch.lease, free
        )
        for dispatch in claimed:
            with self._lock:
                self._in_flight.add(dispatch.id)
            self._pool.submit(self._attempt, dispatch)
        return [dispatch.id for dispatch in claimed]

    def _loop(self) -> None:
        poll = self._config.dispatch.poll_interval
        lease = self._config.dispatch.lease
        last_renewal = self._clock()
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                # Renewals first: after the store was unwritable for longer than a lease, the
                # attempts held in flight take their leases back before anything is claimed.
                if self._clock() - last_renewal > lease / 3:
                    self._renew_leases()
                    last_renewal = self._clock()
                claimed = self.run_once()
            except StoreError as err:
                log.error("dispatcher: the store failed, trying again in %gs: %s", poll, err)
                claimed = []
            except Exception:  # never let the loop die: readiness would go down for good
                log.exception("dispatcher: unexpected error")
                claimed = []
            if not claimed:
                self._wake.wait(poll)

    def _renew_leases(self) -> None:
        ids = self._in_flight_ids()
        if ids:
            self._store.renew_leases(self.owner, ids, self._clock() + self._config.dispatch.lease)

    def _attempt(self, dispatch: ClaimedDispatch) -> None:
        try:
            record = self._send(dispatch)
            if self._record(dispatch, record):
                self._log(dispatch, record)
        finally:
            with self._lock:
                self._in_flight.discard(dispatch.id)
            self._wake.set()

    def _record(self, dispatch: ClaimedDispatch, record: AttemptRecord) -> bool:
        """Record the attempt, trying again while the store is away (a database restart).

        The dispatch stays in flight meanwhile, so its lease is renewed as soon as the store
        answers again; given up only when stopping, and then the lease expires and another
        attempt follows: at least once, never lost.
        """
        delay, started = 0.1, time.monotonic()
        held = False
        while True:
            try:
                self._store.finish_attempt(record, self.owner, dispatch.target)
            except StoreError as err:
                # Once, not at every try: an outage of minutes would flood the log.
                if not held:
                    log.error(
                        "dispatch_id=%s target=%s fingerprint=%s: cannot record attempt %d "
                        "(outcome %s); holding it until the store can be written: %s",
                        dispatch.id,
                        dispatch.target,
                        dispatch.fingerprint,
                        dispatch.attempt,
                        record.outcome,
                        err,
                    )
                held = True
            else:
                if held:
                    log.warning(
                        "dispatch_id=%s: attempt %d recorded after %.1fs on hold",
                        dispatch.id,
                        dispatch.attempt,
                        time.monotonic() - started,
                    )
                return True
            if self._stopping.is_set() and time.monotonic() - started > _RECORD_WHEN_STOPPING:
                log.error(
                    "dispatch_id=%s: stopping with attempt %d unrecorded; it is made again "
                    "after its lease",
                    dispatch.id,
                    dispatch.attempt,
                )
                return False
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def _send(self, dispatch: ClaimedDispatch) -> AttemptRecord:
        attempt = _Attempt(dispatch, self._clock(), self._clock)
        target = self._config.targets.get(dispatch.target)
        if target is None:
            return attempt.failed(
                _Failure(
                    f"target {dispatch.target!r} is not configured any more",
                    FailureReason.CLIENT_ERROR,
                )
            )
        if target.type != dispatch.target_type:
            return attempt.failed(
                _Failure(
                    f"target {dispatch.target!r} is now of type {target.type}, the request was "
                    f"built for {dispatch.target_type}: retry the dispatch by hand to build it "
                    "again",
                    FailureReason.CLIENT_ERROR,
                )
            )
        route = self._config.route(dispatch.route)
        if self._config.dry_run or (route is not None and route.dry_run):
            return attempt.ended(AttemptOutcome.DRY_RUN, "dry run is on now: recorded, not sent")
        try:
            result = target.send(dispatch.request)
        except DispatchError as err:
            if not err.retryable:
                return attempt.failed(_Failure.of(err))
            return self._back_off_or_give_up(attempt, _Failure.of(err))
        except Exception as err:  # a bug in a target must not lose the dispatch
            log.exception(
                "dispatch_id=%s target=%s: unexpected error", dispatch.id, dispatch.target
            )
            failure = _Failure(f"internal error: {err!r}", FailureReason.INTERNAL_ERROR)
            return self._back_off_or_give_up(attempt, failure)
        return attempt.ended(
            AttemptOutcome.SUCCESS,
            result.summary,
            status=result.status,
            details=dict(result.details),
        )

    def _back_off_or_give_up(self, attempt: "_Attempt", failure: "_Failure") -> AttemptRecord:
        dispatch = attempt.dispatch
        # Backoff starts over when a dead letter is retried by hand.
        tries = dispatch.attempt - dispatch.retry_from
        delay = self._config.dispatch.backoff.next_delay(tries, failure.retry_after, self._rng)
        next_at = self._clock() + delay
        if next_at > dispatch.deadline_at:
            deadline = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(dispatch.deadline_at))
            return attempt.failed(
                failure,
                f"gave up at the deadline ({deadline}) after {tries} attempt(s); "
                f"last error: {failure.message}",
            )
        return attempt.ended(
            AttemptOutcome.TRY_AGAIN,
            failure.message,
            reason=failure.reason,
            status=failure.status,
            response=failure.response,
            next_attempt_at=next_at,
        )

    def _log(self, dispatch: ClaimedDispatch, record: AttemptRecord) -> None:
        level = _LOG_LEVEL.get(record.outcome, logging.ERROR)
        suffix = ""
        if record.next_attempt_at is not None:
            suffix = f"; next attempt in {record.next_attempt_at - record.finished_at:.1f}s"
        elif record.outcome == AttemptOutcome.FAILED:
            suffix = "; dead-lettered"
        log.log(
            level,
            "dispatch_id=%s route=%s target=%s fingerprint=%s attempt=%d outcome=%s%s: %s",
            dispatch.id,
            dispatch.route,
            dispatch.target,
            dispatch.fingerprint,
            dispatch.attempt,
            record.outcome,
            f" reason={record.reason}" if record.reason else "",
            record.message + suffix,
        )


_LOG_LEVEL = {
    AttemptOutcome.SUCCESS: logging.INFO,
    AttemptOutcome.TRY_AGAIN: logging.WARNING,
    AttemptOutcome.DRY_RUN: logging.INFO,
}


@dataclass(frozen=True)
class _Failure:
    """Why an attempt failed, as the attempt record keeps it."""

    message: str
    reason: FailureReason
    status: int | None = None
    response: str | None = None
    retry_after: float | None = None  # what the target asked for, if it said

    @classmethod
    def of(cls, err: DispatchError) -> "_Failure":
        """The failure a target raised."""
        return cls(
            err.message,
            err.reason,
            status=err.status,
            response=err.response,
            retry_after=err.retry_after,
        )


@dataclass(frozen=True)
class _Attempt:
    """One attempt under way: turns how it ended into the record to store."""

    dispatch: ClaimedDispatch
    started_at: float
    clock: Callable[[], float]

    def ended(
        self,
        outcome: AttemptOutcome,
        message: str,
        *,
        reason: FailureReason | None = None,
        status: int | None = None,
        response: str | None = None,
        details: dict[str, Any] | None = None,
        next_attempt_at: float | None = None,
    ) -> AttemptRecord:
        """The record of this attempt, finished now."""
        # Whatever a target answered or an error quoted, credentials never reach the store.
        return AttemptRecord(
            dispatch_id=self.dispatch.id,
            attempt=self.dispatch.attempt,
            started_at=self.started_at,
            finished_at=self.clock(),
            outcome=outcome,
            reason=reason,
            status=status,
            message=redact(message),
            response=None if response is None else redact(response),
            details=None if details is None else redact_values(details),
            next_attempt_at=next_attempt_at,
        )

    def failed(self, failure: _Failure, message: str | None = None) -> AttemptRecord:
        """The record of a permanent failure (``message`` replaces the failure's own)."""
        return self.ended(
            AttemptOutcome.FAILED,
            failure.message if message is None else message,
            reason=failure.reason,
            status=failure.status,
            response=failure.response,
        )

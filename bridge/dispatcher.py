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

from bridge.config import BridgeConfig
from bridge.credentials import redact, redact_values
from bridge.store import Store, StoreError
from bridge.store.records import AttemptRecord, ClaimedDispatch
from bridge.targets import DispatchError

log = logging.getLogger(__name__)


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
        self._stop_deadline = float("inf")
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(config.dispatch.concurrency, thread_name_prefix="dispatch")
        self._lock = threading.Lock()
        self._in_flight: set[str] = set()

    def start(self) -> None:
        """Start the background loop."""
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
        self._stop_deadline = deadline
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
        """Write the attempt's outcome, holding it while the store cannot; False if given up.

        Dropped, the outcome would be lost and the dispatch sent again at its lease's expiry,
        every lease, for as long as the store stayed unwritable. Held, the dispatch stays in
        flight: its lease is renewed as soon as the store is back, and the outcome written.
        """
        held_since: float | None = None
        while True:
            try:
                self._store.finish_attempt(record, self.owner, dispatch.target)
            except StoreError as err:
                if held_since is None:
                    held_since = time.monotonic()
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
                if self._stopping.is_set() and time.monotonic() > self._stop_deadline:
                    # At-least-once: the lease expires and the attempt is made again.
                    log.error(
                        "dispatch_id=%s: stopping with attempt %d unrecorded; it is made again "
                        "after its lease",
                        dispatch.id,
                        dispatch.attempt,
                    )
                    return False
                self._stopping.wait(min(max(self._config.dispatch.poll_interval, 0.05), 1.0))
                continue
            if held_since is not None:
                log.warning(
                    "dispatch_id=%s: attempt %d recorded after %.1fs on hold",
                    dispatch.id,
                    dispatch.attempt,
                    time.monotonic() - held_since,
                )
            return True

    def _send(self, dispatch: ClaimedDispatch) -> AttemptRecord:
        started = self._clock()
        target = self._config.targets.get(dispatch.target)

        def record(
            outcome: str,
            message: str,
            reason: str | None = None,
            status: int | None = None,
            response: str | None = None,
            details: dict[str, object] | None = None,
            next_attempt_at: float | None = None,
        ) -> AttemptRecord:
            # Whatever a target answered or an error quoted, credentials never reach the store.
            return AttemptRecord(
                dispatch.id,
                dispatch.attempt,
                started,
                self._clock(),
                outcome,
                reason,
                status,
                redact(message),
                None if response is None else redact(response),
                None if details is None else redact_values(details),
                next_attempt_at,
            )

        if target is None:
            return record(
                "failed", f"target {dispatch.target!r} is not configured any more", "client_error"
            )
        if target.type != dispatch.target_type:
            return record(
                "failed",
                f"target {dispatch.target!r} is now of type {target.type}, the request was built "
                f"for {dispatch.target_type}: retry the dispatch by hand to build it again",
                "client_error",
            )
        route = next((r for r in self._config.routes if r.name == dispatch.route), None)
        if self._config.dry_run or (route is not None and route.dry_run):
            return record("dry_run", "dry run is on now: recorded, not sent")
        try:
            result = target.send(dispatch.request)
        except DispatchError as err:
            if not err.retryable:
                return record("failed", err.message, err.reason, err.status, err.response)
            return self._back_off_or_give_up(
                dispatch, record, err.message, err.reason, err.status, err.response, err.retry_after
            )
        except Exception as err:  # a bug in a target must not lose the dispatch
            log.exception(
                "dispatch_id=%s target=%s: unexpected error", dispatch.id, dispatch.target
            )
            return self._back_off_or_give_up(
                dispatch, record, f"internal error: {err!r}", "internal_error", None, None, None
            )
        return record("success", result.summary, None, result.status, None, dict(result.details))

    def _back_off_or_give_up(
        self,
        dispatch: ClaimedDispatch,
        record: Callable[..., AttemptRecord],
        message: str,
        reason: str,
        status: int | None,
        response: str | None,
        retry_after: float | None,
    ) -> AttemptRecord:
        # Backoff starts over when a dead letter is retried by hand.
        tries = dispatch.attempt - dispatch.retry_from
        delay = self._config.dispatch.backoff.next_delay(tries, retry_after, self._rng)
        next_at = self._clock() + delay
        if next_at > dispatch.deadline_at:
            deadline = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(dispatch.deadline_at))
            return record(
                "failed",
                f"gave up at the deadline ({deadline}) after "
                f"{tries} attempt(s); last error: {message}",
                reason,
                status,
                response,
            )
        return record("retry", message, reason, status, response, None, next_at)

    def _log(self, dispatch: ClaimedDispatch, record: AttemptRecord) -> None:
        level = {"success": logging.INFO, "retry": logging.WARNING, "dry_run": logging.INFO}.get(
            record.outcome, logging.ERROR
        )
        suffix = ""
        if record.next_attempt_at is not None:
            suffix = f"; next attempt in {record.next_attempt_at - record.finished_at:.1f}s"
        elif record.outcome == "failed":
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

"""The run follower: looks at every retraining run until it has a result.

Targets make one look per call (``FollowsRuns.follow``) and never wait; this is the one place
that decides when to look again: every ``follow.poll_interval``, later after failed looks
(exponential backoff with jitter, at least what the service asked for), and not before the reset
when a service's rate budget is down to ``follow.rate_reserve`` (kept for dispatches). Runs are
leased in the store like dispatches, so each look is made by one process, and a restarted bridge
goes on following where the store says it was. The same loop times out runs past their route's
``result_timeout`` and judges episodes once their retraining succeeded.
"""

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from bridge.config import BridgeConfig
from bridge.redispatch import redispatch_failed
from bridge.store import Store, StoreError
from bridge.store.run_records import FollowedRun, RunUpdate
from bridge.targets import DispatchError
from bridge.targets.base import FailureReason, FollowsRuns, RateBudget, RunState, RunStatus

log = logging.getLogger(__name__)

# How often the loop looks for due runs, timeouts and episodes to judge when nothing wakes it.
_TICK = 1.0


class Follower:
    """Leases due runs from the store and looks at each on a small thread pool.

    >>> follower = Follower(store, config)
    >>> follower.start()
    >>> follower.stop()
    """

    def __init__(
        self,
        store: Store,
        config: BridgeConfig,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        on_redispatch: Callable[[], None] | None = None,
    ) -> None:
        # Called after on_failure made dispatches (the dispatcher's wake), to send them now.
        self._on_redispatch = on_redispatch
        self._store = store
        self._config = config
        self._clock = clock
        self._rng = rng or random.Random()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}:follow"
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(config.follow.concurrency, thread_name_prefix="follow")
        self._lock = threading.Lock()
        self._in_flight: set[str] = set()
        # target name -> the rate budget its last answer showed (advisory, per process).
        self._budgets: dict[str, RateBudget] = {}
        # target name -> when this process looked at its runs in the last minute.
        self._recent: dict[str, deque[float]] = {}
        self._last_sweep = 0.0

    def start(self) -> None:
        """Start the background loop."""
        self._thread = threading.Thread(target=self._loop, name="follower", daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        """True while the loop runs."""
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        """Look for due runs now."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop leasing runs; looks in flight finish within their HTTP timeout."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def run_once(self) -> list[str]:
        """Sweep timeouts and episodes, then lease what is due; returns the leased dispatch ids."""
        now = self._clock()
        if now - self._last_sweep >= _TICK:
            self._last_sweep = now
            for dispatch_id in self._store.time_out_runs(now):
                log.warning(
                    "dispatch_id=%s: no result within result_timeout: timed_out", dispatch_id
                )
            self._store.settle_episodes(now)
            if redispatch_failed(self._store, self._config, now) and self._on_redispatch:
                self._on_redispatch()
        with self._lock:
            free = self._config.follow.concurrency - len(self._in_flight)
        if free <= 0:
            return []
        runs = self._store.claim_runs(now, self.owner, self._config.follow.lease, free)
        for run in runs:
            with self._lock:
                self._in_flight.add(run.dispatch_id)
            self._pool.submit(self._look_and_record, run)
        return [run.dispatch_id for run in runs]

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                leased = self.run_once()
            except StoreError as err:
                log.error("follower: the store failed, trying again in %gs: %s", _TICK, err)
                leased = []
            except Exception:  # never let the loop die
                log.exception("follower: unexpected error")
                leased = []
            if not leased:
                self._wake.wait(_TICK)

    def _look_and_record(self, run: FollowedRun) -> None:
        try:
            update = self.look(run)
            try:
                if not self._store.update_run(update, self.owner):
                    log.warning(
                        "dispatch_id=%s: lease lost; this look is not recorded", run.dispatch_id
                    )
            except StoreError as err:
                # The lease expires and the run is looked at again: nothing is lost.
                log.error(
                    "dispatch_id=%s: could not record a look at its run: %s", run.dispatch_id, err
                )
        finally:
            with self._lock:
                self._in_flight.discard(run.dispatch_id)
            self._wake.set()

    def look(self, run: FollowedRun) -> RunUpdate:
        """Look at ``run`` once (unless the rate budget says wait); what to record."""
        now = self._clock()
        target: object = self._config.targets.get(run.target)
        if not isinstance(target, FollowsRuns):
            message = f"target {run.target!r} is not configured any more or cannot follow runs"
            return RunUpdate(run.dispatch_id, now, run.timeout_at, error=message)
        later = self._not_before(run.target, now)
        if later is not None:
            return RunUpdate(run.dispatch_id, now, later)
        try:
            status = target.follow(run.locator, run.etag)
        except DispatchError as err:
            return self._failed(run, now, err)
        except Exception as err:  # a bug in a target must not stop following the others
            log.exception("dispatch_id=%s target=%s: unexpected error", run.dispatch_id, run.target)
            failure = DispatchError(
                f"internal error: {err!r}", retryable=True, reason=FailureReason.SERVER_ERROR
            )
            return self._failed(run, now, failure)
        if status.budget is not None:
            with self._lock:
                self._budgets[run.target] = status.budget
        return self._update(run, now, status)

    def _not_before(self, target: str, now: float) -> float | None:
        """When to look instead of now, if the target's budget or pace says wait."""
        with self._lock:
            budget = self._budgets.get(target)
            if budget is not None and budget.remaining <= self._config.follow.rate_reserve:
                if budget.reset_at > now:
                    # Spread the looks waiting for the reset over a minute after it.
                    return budget.reset_at + self._rng.uniform(0, 60)
                del self._budgets[target]
            # At most max_looks_per_minute per target: GitHub's secondary limit (900 requests
            # a minute to one endpoint) may count the 304s the primary limit does not.
            recent = self._recent.setdefault(target, deque())
            while recent and recent[0] <= now - 60:
                recent.popleft()
            if len(recent) >= self._config.follow.max_looks_per_minute:
                return recent[0] + 60 + self._rng.uniform(0, 5)
            recent.append(now)
            return None

    def _failed(self, run: FollowedRun, now: float, err: DispatchError) -> RunUpdate:
        policy = self._config.follow.backoff
        delay = max(
            self._config.follow.poll_interval,
            policy.next_delay(run.errors + 1, err.retry_after, self._rng),
        )
        log.warning(
            "dispatch_id=%s target=%s fingerprint=%s: looking at the run failed (%s), "
            "next look in %.0fs: %s",
            run.dispatch_id,
            run.target,
            run.fingerprint,
            err.reason,
            delay,
            err.message,
        )
        return RunUpdate(run.dispatch_id, now, now + delay, error=err.message)

    def _update(self, run: FollowedRun, now: float, status: RunStatus) -> RunUpdate:
        interval = self._config.follow.poll_interval
        # Jitter keeps runs dispatched together from being looked at in lockstep forever.
        next_at = now + interval * (0.9 + 0.2 * self._rng.random())
        if status.not_modified:
            return RunUpdate(run.dispatch_id, now, next_at)
        if status.state == RunState.COMPLETED:
            log.info(
                "dispatch_id=%s route=%s target=%s fingerprint=%s: run %s finished: %s (%s)",
                run.dispatch_id,
                run.route,
                run.target,
                run.fingerprint,
                status.url or status.external_id or "",
                status.result,
                status.detail,
            )
        elif status.state != run.state or status.locator != run.locator:
            # Moved on (a queue item became a build): look again soon, not a whole interval on.
            next_at = now + min(interval, 1.0)
        return RunUpdate(
            run.dispatch_id,
            now,
            next_at,
            state=status.state.value,
            locator=status.locator,
            result=None if status.result is None else status.result.value,
            detail=status.detail,
            url=status.url,
            external_id=status.external_id,
            run_attempt=status.run_attempt,
            started_at=status.started_at,
            finished_at=status.finished_at or (now if status.state == RunState.COMPLETED else None),
            duration=status.duration,
            etag=status.etag,
        )

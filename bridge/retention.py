"""Retention: how long records are kept, and the thread that prunes them off the intake path.

```yaml
retention:
  notifications: 30d   # notifications, their decisions, and resolved episodes
  attempts: 90d        # finished dispatches and their attempts
```

Pruning runs in every server process every ``interval``, in batches of ``batch`` records each
committed on its own, with a pause between batches so that intakes never wait behind it for
long. Pending or in-flight dispatches and open episodes are never pruned (``store.pruning``).
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bridge.config_reader import Reader
from bridge.store.base import Store, StoreError
from bridge.store.pruning import Cutoffs, Table

log = logging.getLogger(__name__)

DAY = 86400.0
# Between two batches of one run: intakes get the store in between.
_PAUSE = 0.05


@dataclass(frozen=True)
class RetentionSettings:
    """How long records are kept (seconds) and how pruning runs."""

    enabled: bool = True
    notifications: float = 30 * DAY
    attempts: float = 90 * DAY
    interval: float = 600.0
    batch: int = 500

    def cutoffs(self, now: float) -> Cutoffs:
        """The times before which records may go."""
        return Cutoffs(notifications=now - self.notifications, attempts=now - self.attempts)


def read_retention(reader: Reader) -> RetentionSettings:
    """The validated ``retention:`` mapping."""
    defaults = RetentionSettings()
    settings = RetentionSettings(
        enabled=reader.boolean("enabled", defaults.enabled),
        notifications=reader.duration("notifications", defaults.notifications, minimum=1.0),
        attempts=reader.duration("attempts", defaults.attempts, minimum=1.0),
        interval=reader.duration("interval", defaults.interval, minimum=0.1),
        batch=reader.integer("batch", defaults.batch, minimum=1),
    )
    reader.reject_unknown()
    return settings


def prune_all(store: Store, settings: RetentionSettings, now: float) -> dict[Table, int]:
    """Prune batch after batch until a batch finds less than a full batch; rows per table."""
    total = dict.fromkeys(Table, 0)
    cutoffs = settings.cutoffs(now)
    while True:
        deleted = store.prune(cutoffs, settings.batch)
        for table, count in deleted.items():
            total[table] += count
        if max(deleted.values(), default=0) < settings.batch:
            return total
        time.sleep(_PAUSE)


class Pruner:
    """Runs ``prune_all`` every ``interval`` on a daemon thread."""

    def __init__(
        self, store: Store, settings: RetentionSettings, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start pruning (nothing when retention is disabled)."""
        if self._settings.enabled:
            self._thread = threading.Thread(target=self._loop, name="pruner", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop after the current batch."""
        self._stopping.set()

    def _loop(self) -> None:
        while not self._stopping.wait(self._settings.interval):
            try:
                deleted = prune_all(self._store, self._settings, self._clock())
            except StoreError as err:
                log.warning("retention: pruning failed, trying again later: %s", err)
                continue
            if any(deleted.values()):
                log.info(
                    "retention: pruned %s",
                    ", ".join(f"{count} {table}" for table, count in deleted.items() if count),
                )

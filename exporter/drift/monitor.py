"""The state behind ``drift-exporter watch``: data read, the window scored, the last good result."""

import logging
import threading
import time
from dataclasses import dataclass, field

from exporter.drift.errors import REASONS, InputError
from exporter.drift.reference import Reference
from exporter.drift.scoring import WindowScore, score_window
from exporter.drift.settings import DriftSettings
from exporter.drift.sources import Arrival, Source
from exporter.drift.window import Window

log = logging.getLogger(__name__)

# Not bad input but a bug of ours: counted and logged with its traceback, and watch goes on.
INTERNAL = "internal"
ERROR_REASONS = (*REASONS, INTERNAL)


@dataclass(frozen=True)
class Status:
    """What the monitor knows at one moment; the collector and ``/api/status`` read it."""

    model: str
    reference_rows: int
    window_rows: int
    result: WindowScore | None
    computed_at: float | None
    errors: dict[str, int]
    failing: str | None
    last_error: str | None
    last_error_at: float | None
    files_read: int


@dataclass
class _State:
    result: WindowScore | None = None
    computed_at: float | None = None
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ERROR_REASONS, 0))
    failing: str | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    files_read: int = 0


class Monitor:
    """Scores one model's current data as it arrives.

    >>> monitor = Monitor("churn", reference, settings, Window(spec, columns), Source(path))
    >>> monitor.poll()        # read what is new, score the window if it changed
    >>> monitor.status().result.score
    """

    def __init__(
        self,
        model: str,
        reference: Reference,
        settings: DriftSettings,
        window: Window,
        source: Source,
    ) -> None:
        self.model = model
        self.reference = reference
        self.settings = settings
        self.window = window
        self.source = source
        self._state = _State()
        self._lock = threading.Lock()

    def poll(self) -> bool:
        """Take in what the source has that is new; True when the window was scored again."""
        changed = False
        for arrival in self.source.poll():
            changed = self._take(arrival) or changed
        if changed or self._state.computed_at is None:
            # The first poll always scores, so "no data yet" is published with its reason.
            self._score()
        return changed

    def _take(self, arrival: Arrival) -> bool:
        try:
            if arrival.error is not None:
                raise arrival.error
            assert arrival.frame is not None
            self.reference.check(arrival.frame, str(arrival.path))
            prepared = self.window.prepare(arrival.frame, str(arrival.path))
        except InputError as err:
            self._failed(err.reason, str(err))
            return False
        if arrival.replaces:
            self.window.clear()
        self.window.extend(prepared)
        with self._lock:
            self._state.failing = None
            self._state.files_read += 1
        log.info("%s: %d rows; window: %d rows", arrival.path, len(prepared), self.window.rows)
        return True

    def _score(self) -> None:
        try:
            result = score_window(
                self.reference, self.window.rows, self.window.column, self.settings
            )
        except Exception as err:  # a bug, not bad input: the last good result stays published
            log.exception("scoring failed")
            self._failed(INTERNAL, f"scoring failed: {type(err).__name__}: {err}")
            return
        with self._lock:
            self._state.result = result
            self._state.computed_at = time.time()
        if result.score is None:
            log.info("no drift score: %s", result.detail)
        else:
            log.info(
                "drift score %.4f (%s of %s over %d feature(s), %d rows) in %.3fs",
                result.score,
                result.aggregation,
                result.method,
                result.scored,
                result.rows,
                result.seconds,
            )

    def _failed(self, reason: str, message: str) -> None:
        with self._lock:
            scored = self._state.result is not None and self._state.result.score is not None
        log.warning("%s%s", message, " (kept the last good scores)" if scored else "")
        with self._lock:
            self._state.errors[reason] += 1
            self._state.failing = reason
            self._state.last_error = message
            self._state.last_error_at = time.time()

    def status(self) -> Status:
        """A consistent snapshot of the current state."""
        with self._lock:
            state = self._state
            return Status(
                model=self.model,
                reference_rows=self.reference.rows,
                window_rows=state.result.rows if state.result is not None else 0,
                result=state.result,
                computed_at=state.computed_at,
                errors=dict(state.errors),
                failing=state.failing,
                last_error=state.last_error,
                last_error_at=state.last_error_at,
                files_read=state.files_read,
            )

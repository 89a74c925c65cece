"""A progress bar on stderr for long one-shot runs, without a dependency.

A dozen lines do what is needed here (a count, a bar, the elapsed time, redrawn at most ten
times a second); tqdm would be one more dependency of the core package for that.
"""

import time
from typing import TextIO

_WIDTH = 30
_REDRAW_SECONDS = 0.1


class Progress:
    """``label  done/total [#####.....]  1.2s``, redrawn in place; silent when not ``enabled``.

    >>> with Progress("scoring", total=100, stream=sys.stderr, enabled=True) as bar:
    ...     bar.advance()
    """

    def __init__(self, label: str, total: int, stream: TextIO, enabled: bool) -> None:
        self.label = label
        self.total = max(total, 1)
        self.done = 0
        self._stream = stream
        self._enabled = enabled
        self._started = time.monotonic()
        self._drawn = 0.0

    def advance(self, steps: int = 1) -> None:
        """Count ``steps`` more units of work done."""
        self.done = min(self.done + steps, self.total)
        now = time.monotonic()
        if self._enabled and (now - self._drawn >= _REDRAW_SECONDS or self.done == self.total):
            self._drawn = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        filled = _WIDTH * self.done // self.total
        bar = "#" * filled + "." * (_WIDTH - filled)
        elapsed = now - self._started
        self._stream.write(f"\r{self.label}  {self.done}/{self.total} [{bar}]  {elapsed:.1f}s")
        self._stream.flush()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._enabled and self._drawn:
            self._stream.write("\n")
            self._stream.flush()

"""The current window: the latest N rows, or the rows within a time span of the newest one."""

from collections import deque
from dataclasses import dataclass
from typing import Any

import pandas as pd

from exporter.drift.errors import MISSING_COLUMN, TYPE_MISMATCH, InputError


@dataclass(frozen=True)
class WindowSpec:
    """Which rows are scored: ``rows`` latest rows, ``seconds`` of time, or everything (neither).

    A time window needs ``timestamp_column``; it ends at the newest timestamp seen, so replayed
    files score as they did live, and a source that stops sending leaves the window as it was
    (``drift_last_computation_timestamp_seconds`` then tells that it is stale).
    """

    rows: int | None = None
    seconds: float | None = None
    timestamp_column: str | None = None

    def __post_init__(self) -> None:
        if self.rows is not None and self.seconds is not None:
            raise ValueError("choose a window of rows or of time, not both")
        if self.rows is not None and self.rows < 1:
            raise ValueError(f"the window must hold 1 row or more, got {self.rows}")
        if self.seconds is not None:
            if not self.seconds > 0:
                raise ValueError(f"the time window must be longer than 0s, got {self.seconds}")
            if not self.timestamp_column:
                raise ValueError("a time window needs --timestamp-column")


def parse_timestamps(series: "pd.Series[Any]", source: str) -> "pd.Series[Any]":
    """Timestamps as UTC times: numbers are Unix seconds, text without a zone is UTC."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        parsed = pd.to_datetime(series, utc=True)
    elif pd.api.types.is_numeric_dtype(series.dtype):
        parsed = pd.to_datetime(series, unit="s", utc=True, errors="coerce")
    else:
        try:
            parsed = pd.to_datetime(series, utc=True, errors="coerce", format="mixed")
        except (ValueError, TypeError) as err:
            raise InputError(TYPE_MISMATCH, f"{source}: column {series.name!r}: {err}") from None
    bad = parsed.isna()
    if bad.any():
        row = int(bad.to_numpy().argmax())
        raise InputError(
            TYPE_MISMATCH,
            f"{source}: column {series.name!r}: {series.iloc[row]!r} in data row {row + 1} "
            "is not a date/time",
        )
    return parsed


class Window:
    """Rows kept for scoring, as the chunks they arrived in (no copy of the whole window).

    >>> window = Window(WindowSpec(rows=10_000), columns=["age", "income"])
    >>> window.extend(frame, "batch-0001.parquet")
    >>> window.column("age")
    """

    _TIME = "__drift_time__"

    def __init__(self, spec: WindowSpec, columns: list[str]) -> None:
        self.spec = spec
        self._columns = list(columns)
        self._chunks: deque[pd.DataFrame] = deque()
        self._rows = 0
        self._newest: pd.Timestamp | None = None

    @property
    def rows(self) -> int:
        """Rows in the window."""
        return self._rows

    def clear(self) -> None:
        """Forget every row (a single current file was rewritten)."""
        self._chunks.clear()
        self._rows = 0
        self._newest = None

    def prepare(self, frame: pd.DataFrame, source: str) -> pd.DataFrame:
        """Keep only what scoring needs from ``frame``; raise InputError on bad timestamps."""
        kept = frame[self._columns]
        column = self.spec.timestamp_column
        if self.spec.seconds is None or column is None:
            return kept
        if column not in frame.columns:
            raise InputError(MISSING_COLUMN, f"{source}: no timestamp column {column!r}")
        return kept.assign(**{self._TIME: parse_timestamps(frame[column], source)})

    def extend(self, prepared: pd.DataFrame) -> None:
        """Add rows that :meth:`prepare` returned, then drop those that fell out of the window."""
        if prepared.empty:
            return
        self._chunks.append(prepared)
        self._rows += len(prepared)
        if self.spec.rows is not None:
            self._trim_rows(self.spec.rows)
        elif self.spec.seconds is not None:
            newest = prepared[self._TIME].max()
            if self._newest is None or newest > self._newest:
                self._newest = newest
            self._trim_time(self._newest - pd.Timedelta(seconds=self.spec.seconds))

    def _trim_rows(self, limit: int) -> None:
        while self._rows - len(self._chunks[0]) >= limit:
            self._rows -= len(self._chunks.popleft())
        excess = self._rows - limit
        if excess > 0:
            # A copy, so the rows before the window are freed rather than kept alive by a view.
            self._chunks[0] = self._chunks[0].iloc[excess:].copy()
            self._rows = limit

    def _trim_time(self, cutoff: pd.Timestamp) -> None:
        kept: deque[pd.DataFrame] = deque()
        for chunk in self._chunks:
            times = chunk[self._TIME]
            if bool((times >= cutoff).all()):
                kept.append(chunk)
            elif bool((times >= cutoff).any()):
                kept.append(chunk[times >= cutoff].copy())
        self._chunks = kept
        self._rows = sum(len(chunk) for chunk in kept)

    def column(self, name: str) -> "pd.Series[Any]":
        """One column over the whole window (a view when the window is one chunk)."""
        if not self._chunks:
            return pd.Series([], dtype="float64", name=name)
        if len(self._chunks) == 1:
            return self._chunks[0][name]
        return pd.concat([chunk[name] for chunk in self._chunks], ignore_index=True)

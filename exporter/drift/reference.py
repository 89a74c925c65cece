"""The reference, fitted once: bin edges, category sets, sorted values and a quantile grid."""

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from exporter.drift.columns import choose_columns
from exporter.drift.errors import MISSING_COLUMN, TYPE_MISMATCH, InputError
from exporter.drift.grid import QuantileGrid
from exporter.drift.settings import DriftSettings
from exporter.drift.stats import (
    FloatArray,
    IntArray,
    SortedSample,
    Values,
    bin_counts_sorted,
    finite_part,
    sorted_quantiles,
)

log = logging.getLogger(__name__)

# How a column is stored, as a reader would say it; a current column must match its reference.
_STORAGE_WORDS = {"number": "numbers", "text": "text", "bool": "true/false values", "time": "times"}


def storage_of(series: "pd.Series[Any]") -> str:
    """``number``, ``text``, ``bool`` or ``time``: how a column's values are stored."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(dtype):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "time"
    return "text"


def numeric_values(series: "pd.Series[Any]") -> Values:
    """The values of a numeric column as an array, missing as NaN, without a copy if possible."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "fiu":
        return series.to_numpy()
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def category_labels(series: "pd.Series[Any]") -> "pd.Series[Any]":
    """Category labels as text, missing kept; ``3.0`` reads as ``3`` (CSV ints with gaps)."""
    present = series.dropna()
    if pd.api.types.is_float_dtype(series.dtype) and bool((present == np.floor(present)).all()):
        present = present.astype(np.int64)
    labels = present.astype(str)
    return labels.reindex(series.index)


@dataclass(frozen=True)
class NumericReference:
    """A numeric column's reference: quantile edges, counts per bin, its sorted values.

    ``sample`` (every value, sorted) gives exact KS/Wasserstein; a reference read back from a
    saved file has only ``grid``, which gives them within a reported bound, in any number of
    passes and partitions (see :mod:`exporter.drift.grid`).
    """

    name: str
    edges: FloatArray
    counts: IntArray
    values: int
    missing: int
    std: float
    sample: SortedSample | None
    grid: QuantileGrid | None = None
    # Values so frequent that they have a bin of their own (see :func:`bin_edges`).
    masses: FloatArray = field(default_factory=lambda: np.empty(0))
    storage: str = "number"
    kind: str = "numeric"


@dataclass(frozen=True)
class CategoricalReference:
    """A categorical column's reference: its categories and their counts (unseen: 0, last)."""

    name: str
    categories: "pd.Index[str]"
    counts: IntArray
    values: int
    missing: int
    storage: str
    kind: str = "categorical"


ColumnReference = NumericReference | CategoricalReference


@dataclass(frozen=True)
class Reference:
    """Every feature's fitted reference, in feature order."""

    columns: dict[str, ColumnReference]
    rows: int
    fit_seconds: float
    # The named one, or the first date/time column found when none was named.
    timestamp_column: str | None = None
    # Columns not scored, with why (date/times, identifiers), in the reference's column order.
    left_out: tuple[tuple[str, str], ...] = ()

    def check(self, frame: pd.DataFrame, source: str) -> None:
        """Raise :class:`InputError` unless ``frame`` has every feature, stored as here."""
        missing = [name for name in self.columns if name not in frame.columns]
        if missing:
            raise InputError(
                MISSING_COLUMN,
                f"{source}: missing column(s) {', '.join(missing)} "
                f"(found: {', '.join(map(str, frame.columns)) or 'none'})",
            )
        for name, column in self.columns.items():
            series = frame[name]
            storage = storage_of(series)
            if storage != column.storage and not series.isna().all():
                raise InputError(
                    TYPE_MISMATCH,
                    f"{source}: column {name!r} holds {_STORAGE_WORDS[storage]}, the reference "
                    f"{_STORAGE_WORDS[column.storage]}{_example(series, column.storage)}",
                )


def _example(series: "pd.Series[Any]", expected: str) -> str:
    if expected != "number":
        return ""
    bad = series.notna() & pd.to_numeric(series, errors="coerce").isna()
    if not bad.any():
        return ""
    row = int(bad.to_numpy().argmax())
    return f" (e.g. {series.iloc[row]!r} in data row {row + 1})"


def fit_reference(
    frame: pd.DataFrame,
    settings: DriftSettings,
    features: Sequence[str] = (),
    exclude: Sequence[str] = (),
    source: str = "reference",
    timestamp_column: str | None = None,
) -> Reference:
    """Fit every feature of ``frame``: ``features``, or all columns but ``exclude``, date/times
    and identifiers (each left out with a warning)."""
    started = time.perf_counter()
    left_out: tuple[tuple[str, str], ...] = ()
    if features:
        names = list(features)
    else:
        choice = choose_columns(frame, timestamp_column, settings.categorical, exclude)
        names, timestamp_column, left_out = (
            list(choice.features),
            choice.timestamp_column,
            choice.left_out,
        )
        for name, why in left_out:
            log.warning(
                "%s: column %r %s; not scored (name it in --features to score it)",
                source,
                name,
                why,
            )
    absent = [name for name in names if name not in frame.columns]
    if absent:
        raise InputError(
            MISSING_COLUMN,
            f"{source}: no column(s) {', '.join(absent)} "
            f"(found: {', '.join(map(str, frame.columns)) or 'none'})",
        )
    unknown = sorted(settings.categorical - set(names))
    if unknown:
        raise ValueError(f"--categorical names non-feature column(s): {', '.join(unknown)}")
    if not names:
        why = "; ".join(f"{name} {reason}" for name, reason in left_out)
        raise ValueError(
            f"{source}: no feature columns to score" + (f" (left out: {why})" if why else "")
        )
    columns: dict[str, ColumnReference] = {}
    for name in names:
        series = frame[name]
        storage = storage_of(series)
        if storage == "time":
            raise InputError(
                TYPE_MISMATCH,
                f"{source}: column {name!r} holds times; it cannot be a feature "
                "(use it as --timestamp-column, or leave it out of --features)",
            )
        if name in settings.categorical or storage in ("text", "bool"):
            columns[name] = _fit_categorical(name, series, storage, source)
        else:
            columns[name] = _fit_numeric(name, series, settings, source)
    seconds = time.perf_counter() - started
    log.info("fitted the reference: %d rows, %d features in %.3fs", len(frame), len(names), seconds)
    return Reference(columns, len(frame), seconds, timestamp_column, left_out)


def _fit_numeric(
    name: str, series: "pd.Series[Any]", settings: DriftSettings, source: str
) -> NumericReference:
    values = numeric_values(series).astype(np.float64, copy=False)
    # One sort serves the quantiles, the counts and KS/Wasserstein; it measured faster than
    # np.quantile's partition even when only the quantiles are needed.
    finite = finite_part(np.sort(values))
    if len(finite) == 0:
        raise ValueError(f"{source}: column {name!r} has no values (all missing)")
    edges, masses = bin_edges(finite, settings.bins)
    if len(masses):
        shares = ", ".join(f"{value:g} ({_share(finite, value):.0%})" for value in masses.tolist())
        log.warning(
            "%s: column %r: quantile bins collapse on %s; each such value gets a bin of its own "
            "and the rest keeps quantile bins (%d bins), so PSI/JS still see a change",
            source,
            name,
            shares,
            len(edges) + 1,
        )
    return NumericReference(
        name=name,
        edges=edges,
        masses=masses,
        counts=bin_counts_sorted(finite, edges),
        values=len(finite),
        missing=len(values) - len(finite),
        std=float(finite.std()),
        sample=SortedSample.from_sorted(finite) if settings.needs_order else None,
        grid=QuantileGrid.from_sorted(finite),
    )


def bin_edges(ordered: FloatArray, bins: int) -> tuple[FloatArray, FloatArray]:
    """Interior bin edges of sorted values, and the values that needed a bin of their own.

    Quantile edges put 1/``bins`` of the reference in each bin. A value holding more than that
    (the zeros of a zero-inflated column, a constant column) makes several quantiles equal and
    merges their bins: all of it and some neighbours land in one bin, and a change in how much of
    the data sits there goes unseen. Such a value gets a bin holding only itself
    (``[v, nextafter(v))``), and the other values get quantile edges of their own.
    """
    quantiles = sorted_quantiles(ordered, np.arange(1, bins) / bins)
    edges = np.unique(quantiles)
    if len(edges) == len(quantiles):
        return edges, np.empty(0)
    repeated, times = np.unique(quantiles, return_counts=True)
    masses = repeated[times > 1]
    low = np.searchsorted(ordered, masses, side="left")
    high = np.searchsorted(ordered, masses, side="right")
    keep = np.ones(len(ordered), dtype=bool)
    for start, stop in zip(low.tolist(), high.tolist(), strict=True):
        keep[start:stop] = False
    rest = ordered[keep]
    parts = [masses, np.nextafter(masses, np.inf)]
    rest_bins = bins - len(masses)
    if len(rest) and rest_bins >= 2:
        parts.append(sorted_quantiles(rest, np.arange(1, rest_bins) / rest_bins))
    return np.unique(np.concatenate(parts)), masses


def _share(ordered: FloatArray, value: float) -> float:
    count = np.searchsorted(ordered, value, side="right") - np.searchsorted(ordered, value)
    return float(count) / len(ordered)


def _fit_categorical(
    name: str, series: "pd.Series[Any]", storage: str, source: str
) -> CategoricalReference:
    labels = category_labels(series)
    counts = labels.value_counts(dropna=True).sort_index()
    if counts.empty:
        raise ValueError(f"{source}: column {name!r} has no values (all missing)")
    return CategoricalReference(
        name=name,
        categories=pd.Index(counts.index.astype(str)),
        counts=np.append(counts.to_numpy(dtype=np.int64), 0),
        values=int(counts.sum()),
        missing=len(series) - int(counts.sum()),
        storage=storage,
    )

"""The reference, fitted once: bin edges, category sets, sorted values and a quantile grid."""

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

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
) -> Reference:
    """Fit every feature of ``frame`` (all columns but ``exclude`` when ``features`` is empty)."""
    started = time.perf_counter()
    if features:
        names = list(features)
    else:
        names = [
            str(name)
            for name in frame.columns
            if name not in exclude and storage_of(frame[name]) != "time"
        ]
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
        raise ValueError(f"{source}: no feature columns to score")
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
    return Reference(columns, len(frame), seconds)


def _fit_numeric(
    name: str, series: "pd.Series[Any]", settings: DriftSettings, source: str
) -> NumericReference:
    values = numeric_values(series).astype(np.float64, copy=False)
    # One sort serves the quantiles, the counts and KS/Wasserstein; it measured faster than
    # np.quantile's partition even when only the quantiles are needed.
    finite = finite_part(np.sort(values))
    if len(finite) == 0:
        raise ValueError(f"{source}: column {name!r} has no values (all missing)")
    # Quantile edges put a tenth of the reference in each of 10 bins; ties (a constant column,
    # a spike at 0) merge edges, so such a column has fewer, still well-defined, bins.
    edges = np.unique(sorted_quantiles(finite, np.arange(1, settings.bins) / settings.bins))
    return NumericReference(
        name=name,
        edges=edges,
        counts=bin_counts_sorted(finite, edges),
        values=len(finite),
        missing=len(values) - len(finite),
        std=float(finite.std()),
        sample=SortedSample.from_sorted(finite) if settings.needs_order else None,
        grid=QuantileGrid.from_sorted(finite),
    )


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

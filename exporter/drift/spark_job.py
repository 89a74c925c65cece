"""The drift statistics on Spark: one pass of sums over a table or Parquet data of any size.

Every statistic ``score`` computes is a function of counts that add up across partitions: bin
counts (PSI, JS), category counts, missing values, and counts and sums per cell of the
reference's quantile grid (KS and Wasserstein, within a reported bound; see
:mod:`exporter.drift.grid`). Each partition counts its rows with the same numpy kernels as the
single-machine path (``mapInPandas``), Spark adds the partial counts up, and the driver scores
them with the same functions; so bin-based scores are equal to ``score``'s.

pyspark is imported only here and only when the job runs: the rest of the exporter never needs
it. On a cluster the executors import this module, so install the package there (a wheel via
``--py-files`` or the cluster's Python environment).
"""

import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from exporter.drift.errors import MISSING_COLUMN, TYPE_MISMATCH, InputError
from exporter.drift.grid import GridCounts
from exporter.drift.reference import (
    CategoricalReference,
    NumericReference,
    Reference,
    numeric_values,
)
from exporter.drift.scoring import (
    FeatureScore,
    WindowScore,
    categorical_from_counts,
    category_counts,
    numeric_from_counts,
    summarize,
)
from exporter.drift.settings import DriftSettings
from exporter.drift.stats import IntArray, bin_counts

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

# What a partial count is of; a row of the partial counts is (feature, part, slot, count, total).
_ROWS, _MISSING, _BINS, _GRID = 0, 1, 2, 3
_SCHEMA = "feature int, part int, slot int, count long, total double"
# Rows per Arrow batch handed to a partition's counting: big enough that numpy, not Python,
# takes the time (Spark's default is 10,000).
ARROW_BATCH_ROWS = 131_072


@dataclass(frozen=True)
class CurrentData:
    """Where the current window is: a Parquet path or a table, and the time filter."""

    parquet: str | None = None
    table: str | None = None
    timestamp_column: str | None = None
    seconds: float | None = None
    end: float | None = None  # Unix seconds; None: the newest timestamp in the data

    def describe(self) -> dict[str, Any]:
        """What the report says about the current data."""
        where: dict[str, Any] = {"path": self.parquet} if self.parquet else {"table": self.table}
        if self.seconds is not None:
            where["window_seconds"] = self.seconds
            where["timestamp_column"] = self.timestamp_column
        return where


def build_session(master: str | None, app_name: str = "drift-score") -> "SparkSession":
    """A Spark session (local mode unless ``master`` or spark-submit says otherwise)."""
    from pyspark.sql import SparkSession

    if "PYSPARK_GATEWAY_PORT" not in os.environ and (master is None or master.startswith("local")):
        # We start the JVM ourselves, in local mode: its Python workers must be this Python
        # (with this package and numpy), not whatever `python3` is first on PATH.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    return (
        builder.config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(ARROW_BATCH_ROWS))
        .getOrCreate()
    )


def read_current(spark: "SparkSession", current: CurrentData) -> "DataFrame":
    """The current data, with the time filter applied (pushed down to Parquet where it can)."""
    if current.table:
        frame = spark.table(current.table)
    else:
        assert current.parquet is not None, "a path or a table"
        frame = spark.read.parquet(current.parquet)
    if current.seconds is None:
        return frame
    from pyspark.sql import functions as F  # noqa: N812 (pyspark's own idiom)
    from pyspark.sql.types import NumericType, StringType

    column = current.timestamp_column
    if not column or column not in frame.columns:
        raise InputError(MISSING_COLUMN, f"{_name(current)}: no timestamp column {column!r}")
    kind = frame.schema[column].dataType
    # Numbers are Unix seconds and text without a zone is UTC (the session's zone), as in `score`.
    when = F.to_timestamp(F.col(column)) if isinstance(kind, StringType) else F.col(column)
    numeric = isinstance(kind, NumericType)
    seconds = when if numeric else when.cast("double")
    end = current.end
    if end is None:
        # As `score`: the window ends at the newest timestamp, so a replay scores as live did.
        end = frame.agg(F.max(seconds)).collect()[0][0]
        if end is None:
            return frame.limit(0)
    start = float(end) - current.seconds

    def at(value: float) -> "Column":
        # A literal of the column's own type, so Parquet can skip row groups by their min/max.
        return F.lit(value) if numeric else F.timestamp_seconds(F.lit(value))

    return frame.where((when >= at(start)) & (when <= at(float(end))))


def _name(current: CurrentData) -> str:
    return current.parquet or current.table or "current data"


def check_schema(frame: "DataFrame", reference: Reference, source: str) -> None:
    """Raise :class:`InputError` unless every feature is there, stored as in the reference."""
    from pyspark.sql.types import BooleanType, NullType, NumericType, StringType

    missing = [name for name in reference.columns if name not in frame.columns]
    if missing:
        raise InputError(
            MISSING_COLUMN,
            f"{source}: missing column(s) {', '.join(missing)} "
            f"(found: {', '.join(frame.columns) or 'none'})",
        )
    expected = {"number": NumericType, "text": StringType, "bool": BooleanType}
    for name, column in reference.columns.items():
        kind = frame.schema[name].dataType
        wanted = expected.get(column.storage)
        if wanted is not None and not isinstance(kind, wanted | NullType):
            raise InputError(
                TYPE_MISMATCH,
                f"{source}: column {name!r} is {kind.simpleString()}, the reference's is "
                f"{column.storage}",
            )


def _count_batches(batches: Iterator[pd.DataFrame], reference: Reference) -> Iterator[pd.DataFrame]:
    """One partition's partial counts, as rows of (feature, part, slot, count, total)."""
    columns = list(reference.columns.values())
    rows = 0
    missing = [0] * len(columns)
    bins: list[IntArray | None] = [None] * len(columns)
    cells: list[GridCounts | None] = [None] * len(columns)
    for batch in batches:
        rows += len(batch)
        for index, column in enumerate(columns):
            series = batch[column.name]
            if isinstance(column, CategoricalReference):
                counts, lost = category_counts(column, series)
            else:
                values = numeric_values(series)
                counts, lost = bin_counts(values, column.edges)
                if column.grid is not None:
                    part = column.grid.cells(values)[0]
                    before = cells[index]
                    cells[index] = part if before is None else before + part
            missing[index] += lost
            before_bins = bins[index]
            bins[index] = counts if before_bins is None else before_bins + counts
    out: list[tuple[int, int, int, int, float]] = [(-1, _ROWS, 0, rows, 0.0)]
    for index in range(len(columns)):
        out.append((index, _MISSING, 0, missing[index], 0.0))
        counted = bins[index]
        if counted is not None:
            out.extend((index, _BINS, slot, int(n), 0.0) for slot, n in enumerate(counted))
        grid = cells[index]
        if grid is not None:
            out.extend(
                (index, _GRID, slot, int(n), float(s))
                for slot, (n, s) in enumerate(zip(grid.counts, grid.sums, strict=True))
                if n
            )
    yield pd.DataFrame(out, columns=["feature", "part", "slot", "count", "total"])


@dataclass
class _Totals:
    rows: int
    missing: list[int]
    bins: list[IntArray]
    cells: list[GridCounts | None]


def count_window(frame: "DataFrame", reference: Reference) -> _Totals:
    """Every partial count of ``frame``, added up across partitions (one pass over the data)."""
    from pyspark.sql import functions as F  # noqa: N812

    columns = list(reference.columns.values())
    kept = frame.select(*[F.col(f"`{name}`") for name in reference.columns])
    partial = kept.mapInPandas(lambda batches: _count_batches(batches, reference), _SCHEMA)
    summed = (
        partial.groupBy("feature", "part", "slot")
        .agg(F.sum("count").alias("count"), F.sum("total").alias("total"))
        .collect()
    )
    totals = _Totals(
        rows=0,
        missing=[0] * len(columns),
        bins=[np.zeros(len(c.counts), np.int64) for c in columns],
        cells=[
            c.grid.empty() if isinstance(c, NumericReference) and c.grid is not None else None
            for c in columns
        ],
    )
    for row in summed:
        feature, part, slot, count, total = row
        if part == _ROWS:
            totals.rows += int(count)
        elif part == _MISSING:
            totals.missing[feature] += int(count)
        elif part == _BINS:
            totals.bins[feature][slot] += int(count)
        else:
            cells = totals.cells[feature]
            assert cells is not None
            cells.counts[slot] += int(count)
            cells.sums[slot] += float(total)
    return totals


def score_spark(
    frame: "DataFrame", reference: Reference, settings: DriftSettings, source: str
) -> WindowScore:
    """Score a Spark DataFrame against the reference, as ``score`` scores a file."""
    started = time.perf_counter()
    check_schema(frame, reference, source)
    totals = count_window(frame, reference)
    features: list[FeatureScore] = []
    for index, column in enumerate(reference.columns.values()):
        if isinstance(column, CategoricalReference):
            features.append(
                categorical_from_counts(column, totals.bins[index], totals.missing[index], settings)
            )
        else:
            features.append(
                numeric_from_counts(
                    column,
                    counts=totals.bins[index],
                    missing=totals.missing[index],
                    cells=totals.cells[index],
                    settings=settings,
                )
            )
    return summarize(totals.rows, features, settings, time.perf_counter() - started)

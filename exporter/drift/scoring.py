"""Scoring a current window against the fitted reference: per feature, then per model."""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from exporter.drift.grid import GridCounts, grid_ks, grid_wasserstein
from exporter.drift.reference import (
    CategoricalReference,
    ColumnReference,
    NumericReference,
    Reference,
    category_labels,
    numeric_values,
)
from exporter.drift.settings import CATEGORICAL_METHODS, DriftSettings, ScoreUnavailable
from exporter.drift.stats import (
    IntArray,
    bin_counts,
    bin_counts_sorted,
    finite_part,
    js_distance,
    ks_and_wasserstein,
    psi,
)


@dataclass(frozen=True)
class FeatureScore:
    """One feature's scores in one window; ``scores`` is empty when it had too few values."""

    feature: str
    kind: str
    values: int
    missing: int
    unseen: int | None = None
    scores: dict[str, float] = field(default_factory=dict)
    # For KS/Wasserstein from the quantile grid: |exact - score| <= bound (absent when exact).
    bounds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class WindowScore:
    """A model's scores for one window; ``score`` is None with the reason in ``unavailable``."""

    rows: int
    features: tuple[FeatureScore, ...]
    score: float | None
    unavailable: str | None
    detail: str
    method: str
    aggregation: str
    drifted: tuple[str, ...]
    seconds: float

    @property
    def scored(self) -> int:
        """How many features have a score by the method that makes ``drift_score``."""
        return sum(self.method in feature.scores for feature in self.features)


def score_column(
    reference: ColumnReference, series: "pd.Series[Any]", settings: DriftSettings
) -> FeatureScore:
    """Every requested method for one column, in one pass over its values."""
    if isinstance(reference, CategoricalReference):
        return _score_categorical(reference, series, settings)
    return _score_numeric(reference, series, settings)


def _score_numeric(
    reference: NumericReference, series: "pd.Series[Any]", settings: DriftSettings
) -> FeatureScore:
    values = numeric_values(series)
    if settings.needs_order and reference.sample is None:
        # A reference read from a saved file: KS/Wasserstein from the grid, within a bound.
        binned, lost = bin_counts(values, reference.edges)
        cells = reference.grid.cells(values)[0] if reference.grid is not None else None
        return numeric_from_counts(
            reference, counts=binned, missing=lost, cells=cells, settings=settings
        )
    counts: IntArray | None = None
    if settings.needs_order:
        # One sort serves KS, Wasserstein and the bin counts.
        finite = finite_part(np.sort(values))
        missing = len(values) - len(finite)
        if settings.needs_bins:
            counts = bin_counts_sorted(finite, reference.edges)
    else:
        counts, missing = bin_counts(values, reference.edges)
    valid = len(values) - missing
    scores: dict[str, float] = {}
    if valid >= settings.min_rows:
        if counts is not None:
            scores.update(_binned(reference.counts, counts, settings))
        if settings.needs_order:
            assert reference.sample is not None
            want_ks = "ks" in settings.methods
            want_w = "wasserstein" in settings.methods
            ks, distance = ks_and_wasserstein(reference.sample, finite, want_ks, want_w)
            if want_ks:
                scores["ks"] = ks
            if want_w:
                scores["wasserstein"] = distance / _spread(reference)
    ordered = _ordered(scores, settings)
    return FeatureScore(reference.name, reference.kind, valid, missing, None, ordered)


def _spread(reference: NumericReference) -> float:
    # A constant reference has no spread to measure by: the distance stays in units.
    return reference.std if reference.std > 0 else 1.0


def numeric_from_counts(
    reference: NumericReference,
    counts: IntArray,
    missing: int,
    cells: GridCounts | None,
    settings: DriftSettings,
) -> FeatureScore:
    """A numeric feature's scores from its bin counts and grid counts (summed over parts)."""
    valid = int(counts.sum())
    scores: dict[str, float] = {}
    bounds: dict[str, float] = {}
    if valid >= settings.min_rows:
        scores.update(_binned(reference.counts, counts, settings))
        if settings.needs_order:
            if cells is None or reference.grid is None:
                raise ValueError(
                    f"the reference of {reference.name!r} has no quantile grid; fit it again"
                )
            if "ks" in settings.methods:
                ks = grid_ks(reference.grid, cells)
                scores["ks"], bounds["ks"] = ks.value, ks.bound
            if "wasserstein" in settings.methods:
                distance = grid_wasserstein(reference.grid, cells)
                spread = _spread(reference)
                scores["wasserstein"] = distance.value / spread
                bounds["wasserstein"] = distance.bound / spread
    return FeatureScore(
        feature=reference.name,
        kind=reference.kind,
        values=valid,
        missing=missing,
        scores=_ordered(scores, settings),
        bounds=bounds,
    )


def categorical_from_counts(
    reference: CategoricalReference, counts: IntArray, missing: int, settings: DriftSettings
) -> FeatureScore:
    """A categorical feature's scores from counts per reference category, unseen ones last."""
    valid = int(counts.sum())
    scores: dict[str, float] = {}
    if valid >= settings.min_rows:
        scores = _binned(reference.counts, counts, settings)
    return FeatureScore(
        reference.name,
        reference.kind,
        valid,
        missing,
        int(counts[-1]),
        _ordered(scores, settings),
    )


def _score_categorical(
    reference: CategoricalReference, series: "pd.Series[Any]", settings: DriftSettings
) -> FeatureScore:
    counts, missing = category_counts(reference, series)
    return categorical_from_counts(reference, counts, missing, settings)


def category_counts(
    reference: CategoricalReference, series: "pd.Series[Any]"
) -> tuple[IntArray, int]:
    """Counts per reference category (unseen categories last) and missing values of a column."""
    labels = category_labels(series)
    missing = int(labels.isna().sum())
    codes = reference.categories.get_indexer(pd.Index(labels))
    # Code -1 is both "missing" and "not a reference category"; missing ones are taken out.
    buckets = np.bincount(codes + 1, minlength=len(reference.categories) + 1)
    unseen = int(buckets[0]) - missing
    return np.append(buckets[1:], unseen).astype(np.int64), missing


def _binned(reference: IntArray, current: IntArray, settings: DriftSettings) -> dict[str, float]:
    scores = {}
    if "psi" in settings.methods:
        scores["psi"] = psi(reference, current, settings.epsilon)
    if "js" in settings.methods:
        scores["js"] = js_distance(reference, current)
    return scores


def _ordered(scores: dict[str, float], settings: DriftSettings) -> dict[str, float]:
    return {method: scores[method] for method in settings.methods if method in scores}


def aggregate(scores: list[float], settings: DriftSettings) -> float:
    """The model's score from its features' scores of the primary method."""
    if settings.aggregation == "max":
        return max(scores)
    if settings.aggregation == "mean":
        return math.fsum(scores) / len(scores)
    return sum(score > settings.feature_threshold for score in scores) / len(scores)


def score_window(
    reference: Reference,
    rows: int,
    column: Callable[[str], "pd.Series[Any]"],
    settings: DriftSettings,
    progress: Callable[[str], None] | None = None,
) -> WindowScore:
    """Score every feature of a window of ``rows`` rows whose columns ``column(name)`` gives."""
    started = time.perf_counter()
    features = []
    for name, ref in reference.columns.items():
        features.append(score_column(ref, column(name), settings))
        if progress is not None:
            progress(name)
    return summarize(rows, features, settings, time.perf_counter() - started)


def summarize(
    rows: int, features: list[FeatureScore], settings: DriftSettings, seconds: float
) -> WindowScore:
    """The model's score from its features' scores, or why there is none."""
    method = settings.primary
    primary = {f.feature: f.scores[method] for f in features if method in f.scores}
    score = aggregate(list(primary.values()), settings) if primary else None
    unavailable, detail = None, ""
    if rows == 0:
        unavailable, detail = ScoreUnavailable.NO_DATA, "no current data yet"
    elif rows < settings.min_rows:
        unavailable = ScoreUnavailable.WINDOW_TOO_SMALL
        detail = f"the window has {rows} rows, fewer than the minimum {settings.min_rows}"
    elif score is None:
        unavailable = ScoreUnavailable.TOO_FEW_VALUES
        applicable = "" if method in CATEGORICAL_METHODS else f" ({method} needs numeric features)"
        detail = (
            f"no feature has {settings.min_rows} or more non-missing values to score "
            f"with {method}{applicable}"
        )
    drifted = tuple(name for name, value in primary.items() if value > settings.feature_threshold)
    return WindowScore(
        rows=rows,
        features=tuple(features),
        score=score if unavailable is None else None,
        unavailable=unavailable,
        detail=detail,
        method=method,
        aggregation=settings.aggregation,
        drifted=drifted,
        seconds=seconds,
    )


def score_frame(
    reference: Reference,
    frame: pd.DataFrame,
    settings: DriftSettings,
    progress: Callable[[str], None] | None = None,
) -> WindowScore:
    """Score a whole frame as one window."""
    return score_window(reference, len(frame), lambda name: frame[name], settings, progress)

"""Each drift statistic agrees with scipy, or with a plain PSI, on random and adversarial data."""

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp, wasserstein_distance

from exporter.drift import stats
from exporter.drift.reference import NumericReference, fit_reference
from exporter.drift.scoring import FeatureScore, score_column
from exporter.drift.settings import METHODS, DriftSettings

ALL = DriftSettings(methods=METHODS, min_rows=1)
Arrays = tuple[np.ndarray, np.ndarray]
rng = np.random.default_rng(20261125)


def plain_bins(values: list[float], edges: list[float]) -> list[int]:
    """Counts per bin, one value at a time: (-inf, e0), [e0, e1), ..., [e_last, inf)."""
    counts = [0] * (len(edges) + 1)
    for value in values:
        if math.isfinite(value):
            counts[sum(value >= edge for edge in edges)] += 1
    return counts


def plain_psi(reference: list[int], current: list[int], epsilon: float) -> float:
    """PSI as the textbook writes it, empty bins replaced by epsilon."""
    total_ref, total_cur = sum(reference), sum(current)
    result = 0.0
    for r, c in zip(reference, current, strict=True):
        p = r / total_ref or epsilon
        q = c / total_cur or epsilon
        result += (q - p) * math.log(q / p)
    return result


def fitted(values: np.ndarray, settings: DriftSettings = ALL) -> NumericReference:
    column = fit_reference(pd.DataFrame({"x": values}), settings).columns["x"]
    assert isinstance(column, NumericReference)
    return column


def scored(reference: np.ndarray, current: np.ndarray) -> tuple[NumericReference, FeatureScore]:
    ref = fitted(reference)
    return ref, score_column(ref, pd.Series(current, name="x"), ALL)


CASES: dict[str, Callable[[], Arrays]] = {
    "normal, shifted": lambda: (rng.normal(0, 1, 2000), rng.normal(0.4, 1.3, 1500)),
    "no drift": lambda: (rng.normal(0, 1, 3000), rng.normal(0, 1, 3000)),
    "heavy ties": lambda: (
        rng.integers(0, 4, 500).astype(float),
        rng.integers(0, 6, 700).astype(float),
    ),
    "spike at zero": lambda: (
        np.where(rng.random(1000) < 0.7, 0.0, rng.exponential(1, 1000)),
        np.where(rng.random(800) < 0.4, 0.0, rng.exponential(2, 800)),
    ),
    "constant reference": lambda: (np.full(300, 5.0), rng.normal(5, 1, 200)),
    "both constant, equal": lambda: (np.full(300, 5.0), np.full(40, 5.0)),
    "single current row": lambda: (rng.normal(0, 1, 400), np.array([0.3])),
    "single reference row": lambda: (np.array([1.5]), rng.normal(1, 1, 50)),
    "all above the reference": lambda: (rng.uniform(0, 1, 500), rng.uniform(10, 11, 300)),
    "all below the reference": lambda: (rng.uniform(0, 1, 500), rng.uniform(-11, -10, 300)),
    "far from zero": lambda: (rng.normal(1e9, 1, 1000), rng.normal(1e9 + 0.5, 1, 1000)),
    "with NaN and inf": lambda: (
        np.concatenate([rng.normal(0, 1, 500), [np.nan] * 20, [np.inf]]),
        np.concatenate([rng.normal(0.2, 1, 400), [np.nan] * 30, [-np.inf, np.inf]]),
    ),
}


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> Arrays:
    return CASES[request.param]()


def finite(values: np.ndarray) -> np.ndarray:
    kept: np.ndarray = values[np.isfinite(values)]
    return kept


def test_bin_edges_are_reference_quantiles_with_open_end_bins() -> None:
    reference = rng.normal(0, 1, 10_000)
    column = fitted(reference, DriftSettings(bins=10))
    assert column.edges == pytest.approx(np.quantile(reference, np.arange(1, 10) / 10))
    assert column.counts.tolist() == [1000] * 10
    # Values beyond the reference's range fall into the end bins, not outside every bin.
    counts, missing = stats.bin_counts(np.array([-1e300, 1e300, 0.0]), column.edges)
    assert (counts[0], counts[-1], counts.sum(), missing) == (1, 1, 3, 0)


def test_binning_matches_a_plain_loop(case: Arrays) -> None:
    reference, current = case
    column = fitted(reference)
    for chunk in (3, stats.CHUNK):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(stats, "CHUNK", chunk)
            counts, missing = stats.bin_counts(current, column.edges)
        assert counts.tolist() == plain_bins(current.tolist(), column.edges.tolist())
        assert missing == int((~np.isfinite(current)).sum())
    ordered = stats.finite_part(np.sort(current))
    assert stats.bin_counts_sorted(ordered, column.edges).tolist() == counts.tolist()
    assert column.counts.tolist() == plain_bins(reference.tolist(), column.edges.tolist())


def test_psi_matches_a_plain_implementation(case: Arrays) -> None:
    reference, current = case
    column, result = scored(reference, current)
    edges = column.edges.tolist()
    expected = plain_psi(
        plain_bins(reference.tolist(), edges), plain_bins(current.tolist(), edges), ALL.epsilon
    )
    assert result.scores["psi"] == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_js_distance_matches_scipy(case: Arrays) -> None:
    reference, current = case
    column, result = scored(reference, current)
    edges = column.edges.tolist()
    expected = jensenshannon(
        plain_bins(reference.tolist(), edges), plain_bins(current.tolist(), edges), base=2
    )
    assert result.scores["js"] == pytest.approx(expected, abs=1e-7)
    assert 0 <= result.scores["js"] <= 1


def test_ks_statistic_matches_scipy(case: Arrays) -> None:
    reference, current = case
    _, result = scored(reference, current)
    expected = ks_2samp(finite(reference), finite(current)).statistic
    assert result.scores["ks"] == pytest.approx(expected, abs=1e-12)


def test_wasserstein_matches_scipy_divided_by_the_reference_std(case: Arrays) -> None:
    reference, current = case
    column, result = scored(reference, current)
    expected = wasserstein_distance(finite(reference), finite(current))
    if column.std > 0:
        expected /= finite(reference).std()
    assert result.scores["wasserstein"] == pytest.approx(expected, rel=1e-7, abs=1e-9)


def test_ks_and_wasserstein_agree_with_scipy_across_chunk_boundaries() -> None:
    reference = rng.integers(0, 50, 3000).astype(float)
    current = rng.integers(5, 60, 2500).astype(float)
    sample = stats.SortedSample.of(reference)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(stats, "CHUNK", 7)
        ks, distance = stats.ks_and_wasserstein(sample, np.sort(current), True, True)
    assert ks == pytest.approx(ks_2samp(reference, current).statistic, abs=1e-12)
    assert distance == pytest.approx(wasserstein_distance(reference, current), rel=1e-9)


def test_missing_values_are_counted_not_dropped_silently() -> None:
    current = np.array([0.1, np.nan, 0.2, np.inf, -np.inf, 0.3])
    _, result = scored(rng.normal(0, 1, 100), current)
    assert (result.values, result.missing) == (3, 3)


def test_empty_bins_are_smoothed_with_epsilon() -> None:
    reference = np.array([10, 0, 0, 10])
    current = np.array([5, 5, 0, 10])
    shares_p = [0.5, 1e-4, 1e-4, 0.5]
    shares_q = [0.25, 0.25, 1e-4, 0.5]
    expected = sum((q - p) * math.log(q / p) for p, q in zip(shares_p, shares_q, strict=True))
    assert stats.psi(reference, current, 1e-4) == pytest.approx(expected)
    assert math.isfinite(stats.psi(np.array([1, 0]), np.array([0, 1]), 1e-4))


def test_identical_distributions_score_zero() -> None:
    values = rng.normal(0, 1, 1000)
    _, result = scored(values, values.copy())
    assert result.scores == pytest.approx(dict.fromkeys(METHODS, 0.0), abs=1e-12)


def test_psi_without_drift_is_biased_upward_on_small_windows() -> None:
    """The README's figures: about 0.19 at 100 rows a side, under 0.02 with the defaults."""
    settings = DriftSettings(bins=10, min_rows=1)

    def mean_psi(reference_rows: int, current_rows: int, trials: int) -> float:
        values = []
        for _ in range(trials):
            frame = pd.DataFrame({"x": rng.normal(0, 1, reference_rows)})
            column = fit_reference(frame, settings).columns["x"]
            current = pd.Series(rng.normal(0, 1, current_rows), name="x")
            values.append(score_column(column, current, settings).scores["psi"])
        return float(np.mean(values))

    assert 0.17 < mean_psi(100, 100, 1500) < 0.21
    assert mean_psi(10_000, 1000, 200) < 0.02

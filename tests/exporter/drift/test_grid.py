"""KS and Wasserstein from the quantile grid hold the exact values within their reported bound."""

from collections.abc import Callable

import numpy as np
import pytest
from scipy.stats import ks_2samp, wasserstein_distance

from exporter.drift.grid import QuantileGrid, cells_of, grid_ks, grid_wasserstein

rng = np.random.default_rng(20261127)
Pair = tuple[np.ndarray, np.ndarray]

CASES: dict[str, Callable[[], Pair]] = {
    "normal, shifted and wider": lambda: (rng.normal(0, 1, 5000), rng.normal(0.4, 1.3, 3000)),
    "same distribution": lambda: (rng.normal(0, 1, 5000), rng.normal(0, 1, 5000)),
    "heavy tail": lambda: (rng.lognormal(0, 1.5, 4000), rng.lognormal(0.3, 1.5, 2000)),
    "integers, many ties": lambda: (
        rng.integers(0, 12, 4000).astype(float),
        rng.integers(-3, 15, 2500).astype(float),
    ),
    "far from zero": lambda: (1e9 + rng.normal(0, 1, 3000), 1e9 + rng.normal(0.2, 1, 3000)),
    "current outside the reference": lambda: (rng.uniform(0, 1, 2000), rng.uniform(5, 9, 500)),
    "constant reference": lambda: (np.full(1000, 3.0), rng.normal(3, 1, 700)),
    "one current value": lambda: (rng.normal(0, 1, 2000), np.array([0.5])),
    "small reference": lambda: (rng.normal(0, 1, 7), rng.normal(1, 1, 900)),
}


@pytest.mark.parametrize("case", CASES)
def test_grid_ks_and_wasserstein_hold_the_exact_values_within_the_bound(case: str) -> None:
    reference, current = CASES[case]()
    grid = QuantileGrid.from_sorted(np.sort(reference))
    cells, missing = grid.cells(current)
    assert missing == 0
    exact_ks = ks_2samp(reference, current).statistic
    exact_w = wasserstein_distance(reference, current)
    ks = grid_ks(grid, cells)
    distance = grid_wasserstein(grid, cells)
    assert abs(ks.value - exact_ks) <= ks.bound + 1e-12
    # Floating sums: a relative slack far below any bound that matters.
    assert abs(distance.value - exact_w) <= distance.bound + 1e-9 * max(1.0, exact_w)


def test_the_bounds_are_tight_on_continuous_data_and_zero_on_ties() -> None:
    reference, current = rng.normal(0, 1, 20_000), rng.normal(0.3, 1, 10_000)
    grid = QuantileGrid.from_sorted(np.sort(reference))
    cells = grid.cells(current)[0]
    # 1,000 cells of 0.1% of the reference each; the current window's cells are alike.
    assert grid_ks(grid, cells).bound < 0.002
    assert grid_wasserstein(grid, cells).bound < 0.005

    # Ten distinct values: each is a grid point, its mass counted exactly.
    reference = rng.integers(0, 10, 5000).astype(np.float64)
    current = rng.integers(0, 10, 900).astype(np.float64)
    grid = QuantileGrid.from_sorted(np.sort(reference))
    cells = grid.cells(current)[0]
    assert grid_ks(grid, cells).bound == 0
    assert grid_ks(grid, cells).value == pytest.approx(ks_2samp(reference, current).statistic)
    assert grid_wasserstein(grid, cells).bound == 0


def test_partial_counts_add_up_to_the_counts_of_the_whole() -> None:
    values = np.concatenate((rng.normal(0, 1, 3000), [np.nan, np.inf, -np.inf]))
    rng.shuffle(values)
    grid = QuantileGrid.from_sorted(np.sort(rng.normal(0, 1, 2000)))
    whole, missing = grid.cells(values)
    first, lost_first = grid.cells(values[:1234])
    second, lost_second = grid.cells(values[1234:])
    assert missing == lost_first + lost_second == 3
    assert ((first + second).counts == whole.counts).all()
    assert np.allclose((first + second).sums, whole.sums, rtol=0, atol=1e-9)
    assert whole.total == 3000


def test_the_reference_counts_on_its_grid_as_any_sample_would() -> None:
    ordered = np.sort(rng.integers(0, 50, 3000) / 7)
    grid = QuantileGrid.from_sorted(ordered, size=100)
    again = cells_of(ordered[::-1].copy(), grid.points, grid.center)[0]
    assert (grid.reference.counts == again.counts).all()
    assert np.allclose(grid.reference.sums, again.sums, atol=1e-9)
    assert grid.points[0] == ordered[0]
    assert grid.points[-1] == ordered[-1]

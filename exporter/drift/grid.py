"""KS and Wasserstein from counts on a fine grid of reference quantiles, with an error bound.

The exact statistics need both samples sorted together; a distributed job cannot afford that.
Counts (and sums) per grid cell aggregate across partitions by addition, and bound the exact
statistics tightly: within a cell both empirical CDFs are monotone, so the gap between them is
bounded by their values at the cell's ends, and the integral of each CDF over a cell is exact
from the cell's count and the sum of its values. A result is the middle of the interval that
surely holds the exact value, and ``bound`` is half its width: ``|exact - value| <= bound``.

Slots alternate between open intervals and the grid points themselves: slot 0 is ``(-inf, p0)``,
slot ``2j + 1`` is the point ``pj`` (a value equal to it; ties are common in real data, and a
point's mass is then known exactly rather than smeared over a cell), slot ``2j + 2`` is
``(pj, pj+1)``, and the last is ``(p_last, +inf)``. ``p0`` and ``p_last`` are the reference's
minimum and maximum, so the reference has nothing in the first and last slots.
"""

from dataclasses import dataclass

import numpy as np

from exporter.drift.stats import FloatArray, IntArray, Values, sorted_quantiles

# 1,000 cells: each holds about 0.1% of the reference, so the KS bound is about 0.001 plus the
# largest share of the current window in one cell; a saved reference grows by up to ~60 KB of
# JSON per numeric feature.
DEFAULT_GRID = 1000
# Tails are where cells get wide (a lognormal's last 0.1% spans more than its middle half), and
# a wide cell is a loose Wasserstein bound: the outer cells are split again by halving their
# share this many times, and the most extreme reference values are points of their own.
TAIL_HALVINGS = 20
EXTREME_VALUES = 16


@dataclass(frozen=True)
class Estimate:
    """A statistic from grid counts: ``|exact - value| <= bound``."""

    value: float
    bound: float


@dataclass(frozen=True)
class GridCounts:
    """Counts per cell and sums of ``value - center`` per cell, of one sample's finite values."""

    counts: IntArray
    sums: FloatArray

    @property
    def total(self) -> int:
        """Finite values counted."""
        return int(self.counts.sum())

    def __add__(self, other: "GridCounts") -> "GridCounts":
        return GridCounts(self.counts + other.counts, self.sums + other.sums)


@dataclass(frozen=True)
class QuantileGrid:
    """A reference's quantile grid: its points, and the reference's own counts on it."""

    points: FloatArray
    center: float
    reference: GridCounts

    @classmethod
    def from_sorted(cls, ordered: FloatArray, size: int = DEFAULT_GRID) -> "QuantileGrid":
        """The grid of ``size`` cells of finite, sorted reference values (at least one)."""
        if len(ordered) == 0:
            raise ValueError("no values to fit a grid to")
        tails = 1 / (size * 2.0 ** np.arange(1, TAIL_HALVINGS + 1))
        shares = np.concatenate((np.arange(size + 1) / size, tails, 1 - tails))
        extremes = np.concatenate((ordered[:EXTREME_VALUES], ordered[-EXTREME_VALUES:]))
        points = np.unique(np.concatenate((sorted_quantiles(ordered, shares), extremes)))
        center = float(ordered.mean())
        return cls(points, center, cells_of_sorted(ordered, points, center))

    def cells(self, values: Values) -> tuple[GridCounts, int]:
        """The grid counts of any values (in any order) and how many were missing."""
        return cells_of(values, self.points, self.center)

    def empty(self) -> GridCounts:
        """Zero counts, to add partial counts to."""
        slots = 2 * len(self.points) + 1
        return GridCounts(np.zeros(slots, np.int64), np.zeros(slots))


def cells_of(values: Values, points: FloatArray, center: float) -> tuple[GridCounts, int]:
    """Counts and centred sums per slot of ``values``; NaN and ±inf are missing."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    above = np.searchsorted(points, finite, side="right")
    on_point = points[np.maximum(above - 1, 0)] == finite
    on_point &= above > 0
    slot = 2 * above - on_point
    size = 2 * len(points) + 1
    counts = np.bincount(slot, minlength=size).astype(np.int64)
    sums = np.bincount(slot, weights=finite - center, minlength=size).astype(np.float64)
    return GridCounts(counts, sums), len(values) - len(finite)


def cells_of_sorted(ordered: FloatArray, points: FloatArray, center: float) -> GridCounts:
    """As :func:`cells_of`, for finite values already sorted."""
    edges = np.empty(2 * len(points) + 2, dtype=np.intp)
    edges[0], edges[-1] = 0, len(ordered)
    edges[1:-1:2] = np.searchsorted(ordered, points, side="left")
    edges[2:-1:2] = np.searchsorted(ordered, points, side="right")
    prefix = np.concatenate(([0.0], np.cumsum(ordered - center)))
    counts = np.diff(edges).astype(np.int64)
    sums: FloatArray = prefix[edges[1:]] - prefix[edges[:-1]]
    return GridCounts(counts, sums)


def _cdf(counts: IntArray) -> FloatArray:
    """The CDF at the start of each slot, then 1: left limits at points, values after them."""
    return np.concatenate(([0.0], np.cumsum(counts) / counts.sum()))


def grid_ks(grid: QuantileGrid, current: GridCounts) -> Estimate:
    """Two-sample KS statistic of the reference and a current sample, from grid counts."""
    f = _cdf(grid.reference.counts)
    g = _cdf(current.counts)
    # Every entry is a value (or a left limit) of both CDFs at one place: the sup is at least
    # their largest gap. Inside an open slot each CDF lies between its values at the two ends.
    low = float(np.max(np.abs(f - g)))
    f_a, f_b, g_a, g_b = f[0:-1:2], f[1::2], g[0:-1:2], g[1::2]
    high = float(max(np.max(f_b - g_a), np.max(g_b - f_a), low))
    return Estimate((low + high) / 2, (high - low) / 2)


def grid_wasserstein(grid: QuantileGrid, current: GridCounts) -> Estimate:
    """Wasserstein-1 distance (in the column's units) from grid counts."""
    ref, points = grid.reference, grid.points - grid.center
    n, m = ref.total, current.total
    # Below the reference's minimum F = 0 and above its maximum F = 1, so the tails are exact.
    below = (current.counts[0] * points[0] - current.sums[0]) / m
    above = (current.sums[-1] - current.counts[-1] * points[-1]) / m
    tails = float(below + above)
    if len(points) < 2:
        return Estimate(tails, 0.0)
    f = _cdf(ref.counts)
    g = _cdf(current.counts)
    a, b = points[:-1], points[1:]
    width = b - a
    # The open slots between two points: 2, 4, ..., 2 (L - 1); CDFs at their start and end.
    inner = slice(2, 2 * len(points) - 1, 2)
    f_a, f_b = f[inner], f[3 : 2 * len(points) : 2]
    g_a, g_b = g[inner], g[3 : 2 * len(points) : 2]
    # ∫ F over (a, b) = width * F(a) + sum over the slot's values v of (b - v), divided by n.
    int_f = width * f_a + (ref.counts[inner] * b - ref.sums[inner]) / n
    int_g = width * g_a + (current.counts[inner] * b - current.sums[inner]) / m
    low = np.abs(int_f - int_g)
    high = width * np.maximum(f_b - g_a, g_b - f_a)
    # Where one CDF stays above the other across the whole slot, |∫(F - G)| is the exact area.
    one_sided = (g_a >= f_b) | (f_a >= g_b)
    high = np.where(one_sided, low, np.maximum(high, low))
    lo, hi = tails + float(low.sum()), tails + float(high.sum())
    return Estimate((lo + hi) / 2, (hi - lo) / 2)

"""Drift statistics between a fitted reference and a current sample: PSI, JS, KS, Wasserstein.

The kernels are written for throughput: binning counts ``values >= edge`` per edge over
cache-sized chunks (no per-value index array, no copy of the column), and the statistics that
need order (KS, Wasserstein) sort the current sample once and walk it in chunks against the
reference's sorted values, so memory beyond the sorted copy stays bounded.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
# Numbers of any dtype (float32 Parquet columns, int columns) are binned without conversion.
Values = npt.NDArray[Any]

# 64 Ki values (512 KiB of float64) stay in L2 while every edge is compared against them.
CHUNK = 65_536
DEFAULT_EPSILON = 1e-4


def bin_counts(values: Values, edges: FloatArray) -> tuple[IntArray, int]:
    """Counts per bin and the number of missing values (NaN, ±inf), in one pass.

    ``edges`` are the sorted interior edges; bins are ``(-inf, e0)``, ``[e0, e1)``, ...,
    ``[e_last, +inf)``, so a value equal to an edge belongs to the bin on its right.
    """
    at_least = [0] * len(edges)
    finite = 0
    positive_inf = 0
    mask = np.empty(min(CHUNK, len(values)), dtype=bool)
    for start in range(0, len(values), CHUNK):
        chunk = values[start : start + CHUNK]
        buf = mask[: len(chunk)]
        np.isfinite(chunk, out=buf)
        valid = int(np.count_nonzero(buf))
        finite += valid
        if valid != len(chunk):
            # +inf passes every ">= edge" test below; it is missing, so it is taken back out.
            positive_inf += int(np.count_nonzero(chunk == np.inf))
        for k, edge in enumerate(edges):
            np.greater_equal(chunk, edge, out=buf)
            at_least[k] += int(np.count_nonzero(buf))
    return _counts_from_tails(finite, [n - positive_inf for n in at_least]), len(values) - finite


def bin_counts_sorted(sorted_finite: Values, edges: FloatArray) -> IntArray:
    """Counts per bin (as :func:`bin_counts`) of values already sorted and without missing."""
    at_least = len(sorted_finite) - np.searchsorted(sorted_finite, edges, side="left")
    return _counts_from_tails(len(sorted_finite), [int(n) for n in at_least])


def _counts_from_tails(total: int, at_least: list[int]) -> IntArray:
    tails = np.array([total, *at_least, 0], dtype=np.int64)
    return tails[:-1] - tails[1:]


def finite_part(sorted_values: Values) -> Values:
    """The slice of a sorted array between its -inf and its +inf/NaN values."""
    lo = int(np.searchsorted(sorted_values, -np.inf, side="right"))
    hi = int(np.searchsorted(sorted_values, np.inf, side="left"))
    return sorted_values[lo:hi]


def sorted_quantiles(ordered: FloatArray, quantiles: FloatArray) -> FloatArray:
    """Quantiles of sorted values, interpolated linearly (numpy's default method)."""
    position = (len(ordered) - 1) * quantiles
    low = np.floor(position).astype(np.intp)
    high = np.minimum(low + 1, len(ordered) - 1)
    quantile: FloatArray = ordered[low] + (position - low) * (ordered[high] - ordered[low])
    return quantile


def psi(reference: IntArray, current: IntArray, epsilon: float = DEFAULT_EPSILON) -> float:
    """Population stability index of two count vectors; empty bins count as ``epsilon``."""
    p = _shares(reference)
    q = _shares(current)
    p[p == 0] = epsilon
    q[q == 0] = epsilon
    return float(np.sum((q - p) * np.log(q / p)))


def js_distance(reference: IntArray, current: IntArray) -> float:
    """Jensen-Shannon distance (base 2, so in [0, 1]) of two count vectors."""
    p = _shares(reference)
    q = _shares(current)
    mid = (p + q) / 2
    divergence = (_kl_bits(p, mid) + _kl_bits(q, mid)) / 2
    return float(np.sqrt(min(max(divergence, 0.0), 1.0)))


def _shares(counts: IntArray) -> FloatArray:
    total = int(counts.sum())
    if total == 0:
        raise ValueError("no values to compare")
    return counts / total


def _kl_bits(p: FloatArray, q: FloatArray) -> float:
    some = p > 0
    return float(np.sum(p[some] * np.log2(p[some] / q[some])))


@dataclass(frozen=True)
class SortedSample:
    """A reference sample sorted once, with what KS and Wasserstein need to reuse it.

    ``prefix[k]`` is the sum of the ``k`` smallest values minus ``center`` (the mean): centring
    keeps the cumulative sums small, so the Wasserstein integral loses no precision when the
    values sit far from zero.
    """

    values: FloatArray
    prefix: FloatArray
    center: float

    @classmethod
    def of(cls, finite_values: Values) -> "SortedSample":
        """Sort finite values (at least one) and precompute their centred cumulative sums."""
        return cls.from_sorted(np.sort(np.asarray(finite_values, dtype=np.float64)))

    @classmethod
    def from_sorted(cls, values: FloatArray) -> "SortedSample":
        """As :meth:`of`, for values already sorted (kept, not copied)."""
        if len(values) == 0:
            raise ValueError("no values to compare")
        center = float(values.mean())
        prefix = np.empty(len(values) + 1)
        prefix[0] = 0.0
        np.cumsum(values - center, out=prefix[1:])
        return cls(values, prefix, center)

    def integral_cdf(self, t: FloatArray, rank: IntArray) -> FloatArray:
        """∫_{-inf}^{t} F(x) dx for centred ``t``, given ``rank`` = #{values <= t}."""
        return (rank * t - self.prefix[rank]) / len(self.values)


def ks_and_wasserstein(
    reference: SortedSample, current_sorted: Values, want_ks: bool, want_wasserstein: bool
) -> tuple[float, float]:
    """Two-sample KS statistic and Wasserstein-1 distance of a sorted current sample.

    Exact (the same numbers as scipy's ``ks_2samp`` statistic and ``wasserstein_distance``),
    with the cost of one binary search per current value into the reference, walked in chunks.
    """
    ref = reference.values
    n, m = len(ref), len(current_sorted)
    if m == 0:
        raise ValueError("no values to compare")
    center = reference.center
    ks = 0.0
    area = 0.0
    lo = 0
    # Wasserstein integrates |F - G| over intervals between consecutive current values, where
    # G is constant; the first interval starts at the smallest of both samples, the last ends at
    # the largest (beyond them F = G).
    low = min(float(ref[0]), float(current_sorted[0])) - center
    high = max(float(ref[-1]), float(current_sorted[-1])) - center
    previous = np.array([low])
    previous_phi = np.zeros(1)  # no reference value lies below ``low``
    for start in range(0, m, CHUNK):
        keys = np.asarray(current_sorted[start : start + CHUNK], dtype=np.float64)
        hi = int(np.searchsorted(ref, keys[-1], side="right"))
        # Keys are sorted, so their ranks lie between the previous chunk's last rank and ``hi``.
        right = np.searchsorted(ref[lo:hi], keys, side="right") + lo
        lo = hi
        index = np.arange(start, start + len(keys))
        if want_ks:
            ks = max(ks, float(np.max((index + 1) / m - right / n)))
            left = right.copy()
            tied = right > 0
            tied[tied] = ref[right[tied] - 1] == keys[tied]
            if tied.any():
                left[tied] = np.searchsorted(ref, keys[tied], side="left")
            ks = max(ks, float(np.max(left / n - index / m)))
        if want_wasserstein:
            t = keys - center
            phi = reference.integral_cdf(t, right)
            starts = np.concatenate((previous, t[:-1]))
            starts_phi = np.concatenate((previous_phi, phi[:-1]))
            area += _interval_areas(reference, starts, starts_phi, t, phi, index, n, m)
            previous, previous_phi = t[-1:], phi[-1:]
    if want_wasserstein:
        # The last interval, where G = 1.
        end = np.array([high])
        end_phi = reference.integral_cdf(end, np.array([n]))
        last = np.array([m])
        area += _interval_areas(reference, previous, previous_phi, end, end_phi, last, n, m)
    return ks, area


def _interval_areas(
    reference: SortedSample,
    a: FloatArray,
    phi_a: FloatArray,
    b: FloatArray,
    phi_b: FloatArray,
    index: IntArray,
    n: int,
    m: int,
) -> float:
    """Sum over intervals [a, b), where G = index / m, of ∫|F - G| dx.

    |F - G| = (F - G) + 2 max(G - F, 0); F < G holds left of q = the ``ceil(G n)``-th
    smallest reference value, whose integral needs no search: the rank of q is ``ceil(G n)``
    (tied reference values add nothing to the integral there).
    """
    g = index / m
    k = (index * n + m - 1) // m
    signed = (phi_b - phi_a) - g * (b - a)
    q = np.where(k >= 1, reference.values[np.maximum(k - 1, 0)] - reference.center, -np.inf)
    e = np.clip(q, a, b)
    phi_q = reference.integral_cdf(np.where(k >= 1, q, 0.0), k)
    phi_e = np.where(q <= a, phi_a, np.where(q >= b, phi_b, phi_q))
    below = g * (e - a) - (phi_e - phi_a)
    return float(np.sum(signed + 2 * below))

"""What is computed and how it is summed up: methods, aggregation, bins, minimum window size.

The defaults live here, in one value, and are validated when the settings are made.
"""

from dataclasses import dataclass, field

from exporter.drift.stats import DEFAULT_EPSILON

METHODS = ("psi", "js", "ks", "wasserstein")
# Categorical columns have no order, so only the frequency-based methods apply to them.
CATEGORICAL_METHODS = ("psi", "js")
AGGREGATIONS = ("max", "mean", "share")

# With 10 bins the no-drift mean of PSI is about 9 * (1/current + 1/reference): 0.19 at 100
# rows a side, under 0.01 from 1,000 current rows against a large reference (README, "windows").
DEFAULT_BINS = 10
DEFAULT_MIN_ROWS = 1000
DEFAULT_WINDOW_ROWS = 10_000
DEFAULT_FEATURE_THRESHOLD = 0.2


class ScoreUnavailable:
    """Why no ``drift_score`` is published: a small fixed set, usable as a metric label."""

    NO_DATA = "no_data"
    WINDOW_TOO_SMALL = "window_too_small"
    TOO_FEW_VALUES = "too_few_values"
    ALL = (NO_DATA, WINDOW_TOO_SMALL, TOO_FEW_VALUES)


@dataclass(frozen=True)
class DriftSettings:
    """How a window is scored.

    >>> DriftSettings(methods=("psi", "ks"), aggregation="share", feature_threshold=0.1)

    The first method drives ``drift_score``; the others are published per feature only.
    """

    methods: tuple[str, ...] = ("psi",)
    aggregation: str = "max"
    feature_threshold: float = DEFAULT_FEATURE_THRESHOLD
    bins: int = DEFAULT_BINS
    min_rows: int = DEFAULT_MIN_ROWS
    epsilon: float = DEFAULT_EPSILON
    categorical: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.methods:
            raise ValueError("at least one method is needed")
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise ValueError(f"unknown method {unknown[0]!r} (known: {', '.join(METHODS)})")
        if len(set(self.methods)) != len(self.methods):
            raise ValueError(f"method named more than once in {', '.join(self.methods)}")
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(
                f"unknown aggregation {self.aggregation!r} (known: {', '.join(AGGREGATIONS)})"
            )
        if not 2 <= self.bins <= 1000:
            raise ValueError(f"bins must be between 2 and 1000, got {self.bins}")
        if self.min_rows < 1:
            raise ValueError(f"the minimum window size must be 1 row or more, got {self.min_rows}")
        if not 0 < self.epsilon < 1:
            raise ValueError(f"epsilon must be in (0, 1), got {self.epsilon}")

    @property
    def primary(self) -> str:
        """The method whose feature scores make up ``drift_score``."""
        return self.methods[0]

    @property
    def needs_order(self) -> bool:
        """True when a method needs sorted values (KS, Wasserstein)."""
        return "ks" in self.methods or "wasserstein" in self.methods

    @property
    def needs_bins(self) -> bool:
        """True when a method needs bin counts (PSI, JS)."""
        return "psi" in self.methods or "js" in self.methods

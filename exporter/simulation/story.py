"""The simulated drift score of the design document, per model, with profiles and retraining.

The design document's series, reproduced exactly for seed 42::

    numpy.random.seed(seed)
    for i in range(days):
        current = 0.05 + max(0, i - 20) * 0.015
        noise = numpy.random.normal(0, 0.02)
        score = max(0, current + noise)

With these numbers the first 30 days never exceed 0.2 (the highest is 0.179 on day 29); day 31
(0.252) is the first above it. Defaults elsewhere are therefore longer than 30 days.
"""

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

DEFAULT_SEED = 42


@dataclass(frozen=True)
class DriftProfile:
    """How a simulated score evolves: flat at ``base``, then rising by ``slope`` a day."""

    base: float
    drift_start_day: int
    slope: float
    noise_sd: float

    def expected(self, days_since_reference: int) -> float:
        """The noise-free score ``days_since_reference`` days after the reference was set."""
        return self.base + max(0, days_since_reference - self.drift_start_day) * self.slope


PROFILES: dict[str, DriftProfile] = {
    # The design document's numbers.
    "drifting": DriftProfile(base=0.05, drift_start_day=20, slope=0.015, noise_sd=0.02),
    # Same noise, never drifts: stays far below 0.2.
    "healthy": DriftProfile(base=0.05, drift_start_day=0, slope=0.0, noise_sd=0.02),
}

_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


@dataclass(frozen=True)
class ModelSpec:
    """One simulated model: ``ModelSpec.parse("churn-classifier:drifting:42")``."""

    name: str
    profile: str = "drifting"
    seed: int = DEFAULT_SEED

    def __post_init__(self) -> None:
        if not _MODEL_NAME.match(self.name):
            raise ValueError(
                f"invalid model name {self.name!r}: use letters, digits, '_', '.', '-' "
                "(at most 128 characters, starting with a letter or digit)"
            )
        if self.profile not in PROFILES:
            raise ValueError(
                f"unknown profile {self.profile!r} for model {self.name!r} "
                f"(known: {', '.join(sorted(PROFILES))})"
            )

    @classmethod
    def parse(cls, text: str) -> "ModelSpec":
        """Parse ``NAME[:PROFILE[:SEED]]``."""
        parts = text.split(":")
        if len(parts) > 3 or not parts[0]:
            raise ValueError(f"invalid model {text!r}: expected NAME[:PROFILE[:SEED]]")
        name = parts[0]
        profile = parts[1] if len(parts) > 1 and parts[1] else "drifting"
        seed = DEFAULT_SEED
        if len(parts) == 3:
            try:
                seed = int(parts[2])
            except ValueError:
                raise ValueError(f"invalid seed {parts[2]!r} for model {name!r}") from None
            if not 0 <= seed < 2**32:
                raise ValueError(f"seed for model {name!r} must be in [0, 2**32), got {seed}")
        return cls(name=name, profile=profile, seed=seed)

    def __str__(self) -> str:
        return f"{self.name}:{self.profile}:{self.seed}"


def noise_stream(seed: int, days: int, noise_sd: float) -> np.ndarray:
    """The first ``days`` noise draws; equal to ``numpy.random.seed(seed)`` then one draw a day."""
    # RandomState is the generator behind numpy.random.seed; vectorised draws come out in the
    # same order as one call per day, without touching numpy's global state.
    return np.random.RandomState(seed).normal(0.0, noise_sd, size=days)


def scores_from_noise(
    profile: DriftProfile, noise: np.ndarray, reference_days: np.ndarray | None = None
) -> np.ndarray:
    """Scores for days ``0..len(noise)-1``; day i is measured from ``reference_days[i]``."""
    days = np.arange(len(noise))
    since = days if reference_days is None else days - reference_days
    expected = profile.base + np.maximum(0, since - profile.drift_start_day) * profile.slope
    scores: np.ndarray = np.maximum(0.0, expected + noise)
    return scores


def simulate_scores(days: int, seed: int = DEFAULT_SEED, profile: str = "drifting") -> np.ndarray:
    """Daily scores for days ``0..days-1``."""
    if days < 0:
        raise ValueError(f"days must be zero or more, got {days}")
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r} (known: {', '.join(sorted(PROFILES))})")
    chosen = PROFILES[profile]
    return scores_from_noise(chosen, noise_stream(seed, days, chosen.noise_sd))


def simulate_series(
    days: int,
    seed: int = DEFAULT_SEED,
    profile: str = "drifting",
    end: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """The series as a frame: ``timestamp`` (daily, ending at ``end``) and ``drift_score``."""
    scores = simulate_scores(days, seed, profile)
    end = pd.Timestamp.today() if end is None else end
    timestamps = pd.date_range(end=end, periods=days, freq="D")
    return pd.DataFrame({"timestamp": timestamps, "drift_score": scores})


def first_crossing(scores: np.ndarray, threshold: float) -> int | None:
    """Index of the first score strictly above ``threshold``, or None."""
    above = np.flatnonzero(scores > threshold)
    return int(above[0]) if above.size else None

"""A running simulation: several models, a simulated day that advances, and retraining."""

import threading
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from exporter.simulation.story import PROFILES, ModelSpec, noise_stream


@dataclass(frozen=True)
class Reading:
    """What the exporter publishes for one model at one moment."""

    model: str
    profile: str
    seed: int
    score: float
    days_since_reference: int
    retrainings: int


class UnknownModelError(KeyError):
    """No model of that name is simulated."""


class _Model:
    def __init__(self, spec: ModelSpec, days: int) -> None:
        self.spec = spec
        self.profile = PROFILES[spec.profile]
        self.noise = noise_stream(spec.seed, days, self.profile.noise_sd)
        self.reference_day = 0
        self.retrainings = 0

    def reading(self, day: int) -> Reading:
        since = day - self.reference_day
        score = max(0.0, self.profile.expected(since) + float(self.noise[day]))
        return Reading(
            model=self.spec.name,
            profile=self.spec.profile,
            seed=self.spec.seed,
            score=score,
            days_since_reference=since,
            retrainings=self.retrainings,
        )


class Simulator:
    """Plays a ``days``-long story one day per :meth:`advance`, then holds at the last day.

    >>> sim = Simulator([ModelSpec("churn"), ModelSpec("fraud", "healthy", 7)], days=40)
    >>> sim.advance()
    True
    >>> [r.model for r in sim.readings()]
    ['churn', 'fraud']
    """

    def __init__(
        self,
        specs: Iterable[ModelSpec],
        days: int,
        start_day: int = 0,
        end_date: pd.Timestamp | None = None,
    ) -> None:
        specs = list(specs)
        if days < 1:
            raise ValueError(f"days must be at least 1, got {days}")
        if not 0 <= start_day < days:
            raise ValueError(f"start day must be in [0, {days - 1}], got {start_day}")
        if not specs:
            raise ValueError("at least one model is needed")
        names = [spec.name for spec in specs]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"model named more than once: {', '.join(duplicates)}")
        self.days = days
        self._models = {spec.name: _Model(spec, days) for spec in specs}
        self._day = start_day
        self._lock = threading.Lock()
        end = pd.Timestamp.today().normalize() if end_date is None else end_date
        # Like the design document: daily timestamps, the story's last day is today.
        self._dates = pd.date_range(end=end, periods=days, freq="D")

    @property
    def day(self) -> int:
        """The current simulated day, counted from 0."""
        return self._day

    @property
    def date(self) -> pd.Timestamp:
        """The current simulated date."""
        return self._dates[self._day]

    @property
    def finished(self) -> bool:
        """True once the last day is reached (the simulation then holds there)."""
        return self._day >= self.days - 1

    def advance(self) -> bool:
        """Move to the next day; False (and no change) when already at the last day."""
        with self._lock:
            if self.finished:
                return False
            self._day += 1
            return True

    def retrain(self, name: str) -> Reading:
        """Start a new reference for ``name`` today: its drift returns to the profile's baseline."""
        with self._lock:
            model = self._models.get(name)
            if model is None:
                raise UnknownModelError(name)
            model.reference_day = self._day
            model.retrainings += 1
            return model.reading(self._day)

    def readings(self) -> list[Reading]:
        """The current reading of every model, in the order they were given."""
        with self._lock:
            return [model.reading(self._day) for model in self._models.values()]

    def model_names(self) -> list[str]:
        """Names of the simulated models."""
        return list(self._models)

"""Drift exporter: publishes model drift scores as the Prometheus gauge ``drift_score``."""

from importlib import metadata

from exporter.check import check_drift_and_trigger
from exporter.simulation.story import (
    PROFILES,
    DriftProfile,
    ModelSpec,
    simulate_scores,
    simulate_series,
)

__version__ = metadata.version("drift-retrain-bridge")

__all__ = [
    "PROFILES",
    "DriftProfile",
    "ModelSpec",
    "__version__",
    "check_drift_and_trigger",
    "simulate_scores",
    "simulate_series",
]

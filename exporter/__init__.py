"""Drift exporter: publishes model drift scores as the Prometheus gauge ``drift_score``."""

from importlib import import_module, metadata
from typing import TYPE_CHECKING, Any

__version__ = metadata.version("drift-retrain-bridge")

# The public API, imported on first use: the bridge uses exporter.web and must not pay for
# pandas and numpy (memory, start-up, and garbage-collection pauses on every request).
_LAZY = {
    "check_drift_and_trigger": "exporter.check",
    "PROFILES": "exporter.simulation",
    "DriftProfile": "exporter.simulation",
    "ModelSpec": "exporter.simulation",
    "simulate_scores": "exporter.simulation",
    "simulate_series": "exporter.simulation",
}

if TYPE_CHECKING:
    from exporter.check import check_drift_and_trigger
    from exporter.simulation import (
        PROFILES,
        DriftProfile,
        ModelSpec,
        simulate_scores,
        simulate_series,
    )


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'exporter' has no attribute {name!r}")


__all__ = [
    "PROFILES",
    "DriftProfile",
    "ModelSpec",
    "__version__",
    "check_drift_and_trigger",
    "simulate_scores",
    "simulate_series",
]

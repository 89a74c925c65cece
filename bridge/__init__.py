"""Drift bridge: Alertmanager webhooks in, exactly one retraining per drift episode out."""

from importlib import metadata

__version__ = metadata.version("drift-retrain-bridge")

__all__ = ["__version__"]

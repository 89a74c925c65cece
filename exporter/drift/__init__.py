"""Drift scores from real data: a reference fitted once, current windows scored per feature.

>>> settings = DriftSettings(methods=("psi", "ks"))
>>> reference = fit_reference(reference_frame, settings)
>>> score_frame(reference, current_frame, settings).score
"""

from exporter.drift.errors import InputError
from exporter.drift.reference import Reference, fit_reference
from exporter.drift.scoring import FeatureScore, WindowScore, score_frame, score_window
from exporter.drift.settings import METHODS, DriftSettings

__all__ = [
    "METHODS",
    "DriftSettings",
    "FeatureScore",
    "InputError",
    "Reference",
    "WindowScore",
    "fit_reference",
    "score_frame",
    "score_window",
]

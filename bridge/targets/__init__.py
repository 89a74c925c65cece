"""Targets: where a retraining is dispatched. One module each behind :class:`Target`."""

from bridge.targets.base import DispatchError, DispatchResult, FailureReason, Job, Request, Target

__all__ = ["DispatchError", "DispatchResult", "FailureReason", "Job", "Request", "Target"]

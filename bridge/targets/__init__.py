"""Targets: where a retraining is dispatched. One module each behind :class:`Target`.

>>> target = build_target("ci", reader)  # reads ``type`` and that target's settings
"""

from collections.abc import Callable

from bridge.config_reader import Reader
from bridge.targets import command, github, jenkins, webhook
from bridge.targets.base import DispatchError, DispatchResult, FailureReason, Job, Request, Target

# Type name -> reader of that target's settings (None when they are unusable).
TARGET_TYPES: dict[str, Callable[[str, Reader], Target | None]] = {
    "jenkins": jenkins.from_config,
    "github": github.from_config,
    "command": command.from_config,
    "webhook": webhook.from_config,
}


def build_target(name: str, reader: Reader) -> Target | None:
    """The target configured at ``reader``; None (with problems recorded) when it is unusable."""
    kind = reader.string("type", choices=sorted(TARGET_TYPES))
    if kind not in TARGET_TYPES:
        return None
    return TARGET_TYPES[kind](name, reader)


__all__ = [
    "TARGET_TYPES",
    "DispatchError",
    "DispatchResult",
    "FailureReason",
    "Job",
    "Request",
    "Target",
    "build_target",
]

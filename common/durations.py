"""Durations in the Prometheus grammar: the one grammar for every setting and flag."""

import re

_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)(ms|s|m|h|d|w))+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
EXAMPLES = "500ms, 30s, 5m, 1h30m, 1d"


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus-style duration such as ``90s``, ``5m``, ``1h30m`` or ``1d``.

    >>> parse_duration("1h30m")
    5400.0
    """
    if not _DURATION.match(text):
        raise ValueError(f"invalid duration {text!r}: use e.g. {EXAMPLES}")
    return sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(text))

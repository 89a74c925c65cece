"""Command-line value types shared by the exporter's commands: one-line errors, no tracebacks."""

import argparse
import math

from common.durations import parse_duration


def positive_int(text: str) -> int:
    """A whole number of 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {value}")
    return value


def finite_float(text: str) -> float:
    """Any finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number of 0 or more."""
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def duration(text: str) -> float:
    """Seconds in a Prometheus-style duration over 0: ``90s``, ``500ms``, ``5m``, ``1h30m``."""
    try:
        seconds = parse_duration(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a duration such as 30s, 5m, 1h30m or 1d, got {text!r}"
        ) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"expected a duration longer than 0, got {text!r}")
    return seconds

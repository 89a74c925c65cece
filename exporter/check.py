"""The design document's check: is the latest drift score above the threshold?"""

import logging
import math
import warnings
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("timestamp", "drift_score")


class EmptyDataWarning(UserWarning):
    """Raised as a warning when there is no monitoring data to check."""


def check_drift_and_trigger(data: pd.DataFrame, threshold: float) -> tuple[bool, float | None]:
    """Return ``(triggered, latest_score)``: triggered when the latest score is strictly above.

    ``data`` has the columns ``timestamp`` and ``drift_score``. Rows are sorted by timestamp
    (stably, so the last of equal timestamps counts as the latest) before the latest is taken.
    An empty frame warns with :class:`EmptyDataWarning` and returns ``(False, None)``.
    """
    if not math.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold}")
    missing = [column for column in REQUIRED_COLUMNS if column not in data.columns]
    if missing:
        raise ValueError(f"monitoring data lacks column(s): {', '.join(missing)}")
    if data.empty:
        warnings.warn("no monitoring data to check", EmptyDataWarning, stacklevel=2)
        return False, None
    latest = data.sort_values("timestamp", kind="stable").iloc[-1]
    score = float(latest["drift_score"])
    triggered = score > threshold
    log.info(
        "drift check at %s: score %.4f %s threshold %s",
        latest["timestamp"],
        score,
        "above" if triggered else "within",
        threshold,
    )
    return triggered, score


def read_scores_csv(path: Path) -> pd.DataFrame:
    """Read a ``timestamp,drift_score`` CSV, with errors that name the file, row and value."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except pd.errors.EmptyDataError:
        raise ValueError(
            f"{path}: file is empty (expected a header: timestamp,drift_score)"
        ) from None
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: cannot read as CSV: {str(err).strip()}") from None
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        found = ", ".join(frame.columns) or "none"
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)} (found: {found})")
    # Row numbers in messages count the header as line 1, as an editor shows them.
    scores = pd.to_numeric(frame["drift_score"], errors="coerce")
    bad = scores.isna() | ~scores.map(lambda v: math.isfinite(v) if pd.notna(v) else False)
    if bad.any():
        row = int(bad.to_numpy().argmax())
        value = frame["drift_score"].iloc[row]
        raise ValueError(f"{path}: line {row + 2}: drift_score {value!r} is not a finite number")
    try:
        timestamps = pd.to_datetime(frame["timestamp"], errors="coerce", format="mixed")
    except (ValueError, TypeError) as err:
        # Raised for a column that mixes time zones, which no single order can compare.
        raise ValueError(f"{path}: timestamp column cannot be compared: {err}") from None
    if timestamps.isna().any():
        row = int(timestamps.isna().to_numpy().argmax())
        value = frame["timestamp"].iloc[row]
        raise ValueError(f"{path}: line {row + 2}: timestamp {value!r} is not a date/time")
    return pd.DataFrame({"timestamp": timestamps, "drift_score": scores.astype(float)})

"""Which columns of real data are features: date/time and ID-like columns are never scored.

A timestamp column scored as a category makes every new hour an "unseen" value, and an ID
column makes every row one: both give a drift alarm on data that has not drifted. They are found
by what they hold, so that nobody has to remember to leave them out.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

# How many values of a text column are looked at to decide whether it holds date/times.
_SAMPLE = 200
# A column unique on fewer rows than this may just be a small sample, not an identifier.
MIN_ID_ROWS = 20
# Dates as data files write them: 2013-01-01, 2013/01/01 01:00:00, 2013-01-01T06:00:00Z, ...
_DATE_TEXT = re.compile(
    r"\d{4}[-/]\d{1,2}[-/]\d{1,2}"
    r"([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?"
    r"\s*(Z|UTC|[+-]\d{2}(:?\d{2})?)?"
)


@dataclass(frozen=True)
class ColumnChoice:
    """The features to score, the timestamp column, and the columns left out with why."""

    features: tuple[str, ...]
    timestamp_column: str | None
    left_out: tuple[tuple[str, str], ...]


def holds_times(series: "pd.Series[Any]") -> bool:
    """True for a date/time column: by its dtype, or text whose values all read as dates."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return True
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        return False
    sample = series.dropna().head(_SAMPLE)
    if sample.empty or not all(isinstance(value, str) for value in sample):
        return False
    if not all(_DATE_TEXT.fullmatch(value.strip()) for value in sample):
        return False
    parsed = pd.to_datetime(sample, utc=True, errors="coerce", format="mixed")
    return not bool(parsed.isna().any())


def is_id_like(series: "pd.Series[Any]") -> bool:
    """True for text or integer columns whose values are unique per row (an identifier)."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
        return False
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_integer_dtype(dtype):
        return False
    present = series.dropna()
    if len(present) < MIN_ID_ROWS:
        return False
    # Most columns repeat a value early: a cheap look at the head spares hashing the whole column.
    return bool(present.head(1000).is_unique) and bool(present.is_unique)


def choose_columns(
    frame: pd.DataFrame,
    timestamp_column: str | None,
    keep: frozenset[str] = frozenset(),
    exclude: Sequence[str] = (),
) -> ColumnChoice:
    """Every column but date/times and identifiers (``keep``: named categorical, never dropped).

    The first date/time column becomes the timestamp column when none is named.
    """
    features: list[str] = []
    left_out: list[tuple[str, str]] = []
    for column in frame.columns:
        name = str(column)
        if name == timestamp_column or name in exclude:
            continue
        series = frame[column]
        if holds_times(series):
            if timestamp_column is None:
                timestamp_column = name
                left_out.append((name, "holds date/times: used as the timestamp column"))
            else:
                left_out.append((name, "holds date/times"))
        elif name not in keep and is_id_like(series):
            left_out.append((name, "is unique per row (an identifier)"))
        else:
            features.append(name)
    return ColumnChoice(tuple(features), timestamp_column, tuple(left_out))

"""Bad input: an error with a reason from a small fixed set, usable as a metric label."""


class InputError(ValueError):
    """Current or reference data that cannot be scored; ``reason`` is one of :data:`REASONS`.

    >>> raise InputError(MISSING_COLUMN, "current.csv: no column 'age'")
    """

    def __init__(self, reason: str, message: str) -> None:
        assert reason in REASONS, f"unknown input error reason {reason!r}"
        super().__init__(message)
        self.reason = reason


UNREADABLE = "unreadable"
MISSING_COLUMN = "missing_column"
TYPE_MISMATCH = "type_mismatch"
REASONS = (UNREADABLE, MISSING_COLUMN, TYPE_MISMATCH)

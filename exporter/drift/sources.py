"""Reading CSV and Parquet files, and noticing new or changed ones in a file or a directory."""

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from exporter.drift.errors import UNREADABLE, InputError

log = logging.getLogger(__name__)

CSV_SUFFIXES = (".csv", ".csv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")


def is_data_file(path: Path) -> bool:
    """A CSV or Parquet file that is not hidden or temporary (``.name``, ``_SUCCESS``, ``~``)."""
    name = path.name.lower()
    if name.startswith((".", "_")) or name.endswith("~"):
        return False
    return name.endswith(CSV_SUFFIXES + PARQUET_SUFFIXES)


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file; every failure is an :class:`InputError` naming the file."""
    name = path.name.lower()
    try:
        if name.endswith(PARQUET_SUFFIXES):
            return _read_parquet(path)
        if name.endswith(CSV_SUFFIXES):
            # low_memory=False: one type per column for the whole file, not per internal chunk.
            return pd.read_csv(path, low_memory=False)
    except FileNotFoundError:
        raise InputError(UNREADABLE, f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(UNREADABLE, f"{path}: is a directory") from None
    except pd.errors.EmptyDataError:
        raise InputError(UNREADABLE, f"{path}: file is empty (expected a header line)") from None
    except UnicodeDecodeError as err:
        raise InputError(UNREADABLE, f"{path}: not UTF-8 text: {err.reason}") from None
    except (OSError, ValueError, pd.errors.ParserError) as err:
        # pyarrow's errors (ArrowInvalid and friends) are ValueErrors or OSErrors.
        detail = " ".join(str(err).split()) or type(err).__name__
        raise InputError(UNREADABLE, f"{path}: cannot read: {detail}") from None
    raise InputError(
        UNREADABLE,
        f"{path}: unsupported file type (expected {', '.join(CSV_SUFFIXES + PARQUET_SUFFIXES)})",
    )


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        import pyarrow.parquet  # noqa: F401  (only to give a clear message when it is missing)
    except ImportError:
        raise InputError(
            UNREADABLE,
            f"{path}: reading Parquet needs pyarrow: pip install 'drift-retrain-bridge[data]'",
        ) from None
    return pd.read_parquet(path)


def list_data_files(directory: Path) -> list[Path]:
    """The data files of a directory, in name order (name files by time so they read in order)."""
    try:
        entries = sorted(directory.iterdir())
    except OSError as err:
        raise InputError(UNREADABLE, f"{directory}: cannot list: {err.strerror}") from None
    return [path for path in entries if is_data_file(path) and path.is_file()]


@dataclass(frozen=True)
class Arrival:
    """New current data from one file, or why it could not be read."""

    path: Path
    frame: pd.DataFrame | None
    error: InputError | None
    replaces: bool


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


class Source:
    """The current data: one file, re-read whole when it changes, or a directory of new files.

    >>> source = Source(Path("incoming/"))
    >>> for arrival in source.poll(): ...

    A directory's files are read once each, in name order; write them whole (under a name
    starting with ``.`` and then renamed) so that no half-written file is read. A file that
    fails is tried again only once it changes.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: dict[Path, tuple[int, int] | None] = {}
        self._done: set[Path] = set()

    def poll(self) -> list[Arrival]:
        """What is new since the last poll."""
        if self.path.is_dir():
            try:
                candidates = [p for p in list_data_files(self.path) if p not in self._done]
            except InputError as err:
                return [Arrival(self.path, None, err, replaces=False)]
            return [arrival for p in candidates if (arrival := self._read(p, False)) is not None]
        arrival = self._read(self.path, True)
        return [arrival] if arrival is not None else []

    def _read(self, path: Path, replaces: bool) -> Arrival | None:
        signature = _signature(path)
        if path in self._seen and self._seen[path] == signature:
            return None
        self._seen[path] = signature
        if signature is None and not os.path.lexists(path):
            # Said once: the path is looked at again at every poll and read once it appears.
            missing = InputError(UNREADABLE, f"{path}: no such file or directory")
            return Arrival(path, None, missing, replaces)
        try:
            frame = read_table(path)
        except InputError as err:
            return Arrival(path, None, err, replaces)
        if not replaces:
            self._done.add(path)
            del self._seen[path]
        log.debug("read %s: %d rows", path, len(frame))
        return Arrival(path, frame, None, replaces)


def data_files(path: Path) -> list[Path]:
    """The files a one-shot read takes: ``path`` itself, or its directory's data files by name."""
    if path.is_dir():
        files = list_data_files(path)
        if not files:
            raise InputError(UNREADABLE, f"{path}: no CSV or Parquet files in this directory")
        return files
    if not os.path.lexists(path):
        raise InputError(UNREADABLE, f"{path}: no such file or directory")
    return [path]

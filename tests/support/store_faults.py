"""Faults of the disk under a SQLite store, made for real: an unwritable file, a full disk.

Both need root (``chattr +i`` makes a file unwritable even for root; a small tmpfs is a disk that
fills up); the tests that use them are skipped elsewhere. ``chattr`` is never applied to the
``-shm`` file: SQLite maps it into memory, and an immutable mapping kills the process (SIGBUS).
"""

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _run(*argv: str) -> bool:
    return subprocess.run(argv, capture_output=True, check=False).returncode == 0


class StoreFaults:
    """Make the files of a SQLite store at ``path`` unwritable, and writable again."""

    def __init__(self, scratch: Path) -> None:
        probe = scratch / "chattr-probe"
        probe.write_text("")
        if (
            os.geteuid() != 0
            or shutil.which("chattr") is None
            or not _run("chattr", "+i", str(probe))
        ):
            pytest.skip("needs root and a file system with the immutable attribute (chattr +i)")
        _run("chattr", "-i", str(probe))
        self._frozen: list[Path] = []

    def freeze(self, db: Path) -> None:
        """Every write to the store fails from now (reads still work), as on a read-only disk."""
        files = [path for path in (db, Path(f"{db}-wal")) if path.exists()]
        assert _run("chattr", "+i", *map(str, files)), "chattr +i failed"
        self._frozen.extend(files)

    def thaw(self) -> None:
        """The fault clears."""
        if self._frozen:
            _run("chattr", "-i", *map(str, self._frozen))
        self._frozen.clear()

    @contextmanager
    def frozen(self, db: Path) -> Iterator[None]:
        """Unwritable for the block."""
        self.freeze(db)
        try:
            yield
        finally:
            self.thaw()


@pytest.fixture
def store_faults(tmp_path: Path) -> Iterator[StoreFaults]:
    """Fault injection on store files; always cleared at the end of the test."""
    faults = StoreFaults(tmp_path)
    try:
        yield faults
    finally:
        faults.thaw()


class SmallDisk:
    """A tmpfs of a few megabytes mounted at ``path``, which a test can fill up."""

    def __init__(self, path: Path, size: str) -> None:
        self.path = path
        path.mkdir()
        if os.geteuid() != 0 or not _run(
            "mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)
        ):
            pytest.skip("needs root allowed to mount a tmpfs (a disk that fills up)")
        self._filler = path / "filler"

    def fill(self) -> None:
        """Take every free byte."""
        with self._filler.open("ab") as filler:
            try:
                while True:
                    filler.write(b"\0" * 65536)
                    filler.flush()
            except OSError:
                pass

    def free(self) -> None:
        """Give the space back."""
        self._filler.unlink(missing_ok=True)

    def unmount(self) -> None:
        """Unmount (lazily: a store left open must not make the test fail)."""
        _run("umount", "-l", str(self.path))


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    """A 2 MB disk at ``tmp_path/disk``, unmounted at the end of the test."""
    disk = SmallDisk(tmp_path / "disk", "2m")
    try:
        yield disk
    finally:
        disk.unmount()

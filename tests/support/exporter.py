"""Fixtures for the exporter's command line."""

from collections.abc import Callable

import pytest

from exporter.cli import main

# Runs ``drift-exporter ARGS...`` in this process: (exit status, stdout, stderr).
RunExporter = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run_exporter(capsys: pytest.CaptureFixture[str]) -> RunExporter:
    """``drift-exporter`` in this process, with what it printed."""

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            code = main(list(argv))
        except SystemExit as exit_:  # argparse usage errors
            code = int(exit_.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run

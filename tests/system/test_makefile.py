"""The Makefile: `make demo` installs the project alone; a missing python3-venv is named."""

import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def make(*argv: str) -> subprocess.CompletedProcess[str]:
    make_path = shutil.which("make")
    assert make_path is not None, "make is needed: apt-get install make"
    return subprocess.run(
        [make_path, "-C", str(REPO), *argv], capture_output=True, text=True, timeout=60
    )


def test_the_demo_installs_the_project_without_the_test_tools(tmp_path: Path) -> None:
    # -n: print the commands; -B: as if nothing were installed; a venv path of its own.
    shown = make("-n", "-B", "demo-venv", f"VENV={tmp_path / 'venv'}")
    assert shown.returncode == 0, shown.stderr
    installs = [line for line in shown.stdout.splitlines() if "pip install" in line]
    assert installs[-1].endswith("pip install --quiet -e .")
    assert "[test" not in shown.stdout


def test_a_python_without_venv_is_named_with_its_package(tmp_path: Path) -> None:
    # A Python whose venv module cannot load: what Debian's python3 is without python3-venv.
    python = tmp_path / "python3"
    python.write_text("#!/bin/sh\nexit 1\n")
    python.chmod(0o755)
    result = make("python-venv", f"PYTHON={python}")
    assert result.returncode != 0
    assert "apt-get install -y python3-venv" in result.stderr
    missing = make("python-venv", f"PYTHON={tmp_path / 'no-python'}")
    assert "not found: apt-get install -y python3 python3-venv" in missing.stderr

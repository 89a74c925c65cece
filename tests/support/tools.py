"""Running the real command-line tools the tests check configurations with (promtool, amtool)."""

import subprocess
from pathlib import Path

from demo.harness.processes import require_binary


def run_tool(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a Debian-packaged tool in ``cwd``; its output captured as text."""
    return subprocess.run(
        [require_binary(argv[0]), *argv[1:]], cwd=cwd, capture_output=True, text=True, timeout=60
    )

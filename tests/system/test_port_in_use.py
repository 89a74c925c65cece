"""A taken port stops each server with one line: the address, and the setting that changes it."""

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.harness.processes import venv_script

pytestmark = pytest.mark.integration


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port some other process listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=cwd)


@pytest.mark.parametrize("command", [["simulate"], ["watch", "--model=churn"]])
def test_the_exporter_names_the_address_and_the_flag(
    tmp_path: Path, taken_port: int, command: list[str]
) -> None:
    (tmp_path / "reference.csv").write_text("x\n" + "1\n2\n" * 25)
    extra = ["--reference=reference.csv", "--current=incoming"] if command[0] == "watch" else []
    address = f"--web.listen-address=127.0.0.1:{taken_port}"
    result = run(venv_script("drift-exporter"), *command, *extra, address, cwd=tmp_path)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert errors == [
        f"drift-exporter: error: cannot listen on 127.0.0.1:{taken_port}: address already in "
        "use (choose another with --web.listen-address)"
    ]


def test_the_bridge_says_it_in_one_line_not_in_gunicorns_retries(
    tmp_path: Path, taken_port: int
) -> None:
    config = tmp_path / "bridge.yml"
    config.write_text(
        f"listen_address: 127.0.0.1:{taken_port}\n"
        "store: {path: bridge.db}\n"
        "targets: {retrain: {type: webhook, url: 'https://retrain.example.com/hook'}}\n"
        "routes: [{name: all, target: retrain}]\n"
    )
    result = run(venv_script("drift-bridge"), "serve", f"--config.file={config}", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"drift-bridge: error: cannot listen on 127.0.0.1:{taken_port}: address already in use "
        f"(choose another with --web.listen-address or listen_address in {config})"
    ]

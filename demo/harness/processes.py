"""Start real programs (Prometheus, Alertmanager, our own CLIs) for a test and always stop them."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

import requests

T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def venv_script(name: str) -> str:
    """Path of a console script installed beside the running interpreter."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: is the project installed (make venv)?")
    return str(path)


def require_binary(name: str) -> str:
    """Path of a system binary, or a clear error saying which Debian package provides it."""
    path = shutil.which(name)
    if path is None:
        raise FileNotFoundError(
            f"{name} not found on PATH: run `make tools` (apt-get install prometheus "
            "prometheus-alertmanager)"
        )
    return path


def wait_until(
    probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.1
) -> T:
    """Call ``probe`` until it returns something other than None; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


class Process:
    """A child process with its output in a log file; stopped (and reaped) on exit.

    >>> with Process("prometheus", ["prometheus", ...], log_dir) as prom:
    ...     prom.wait_http("http://127.0.0.1:9090/-/ready")
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_dir: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_dir / f"{name}.log"
        self._env = {**os.environ, **(env or {})}
        self._cwd = cwd
        self._popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        """Start the program; its stdout and stderr go to the log file."""
        with self.log_path.open("ab") as log:
            self._popen = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env,
                cwd=self._cwd,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        """The child's process id."""
        assert self._popen is not None, f"{self.name} was not started"
        return self._popen.pid

    def running(self) -> bool:
        """True while the child has not exited."""
        return self._popen is not None and self._popen.poll() is None

    def logs(self) -> str:
        """Everything the program printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_http(self, url: str, timeout: float = 20.0) -> None:
        """Wait until ``url`` answers 200, failing early (with the logs) if the program exits."""

        def probe() -> bool | None:
            if not self.running():
                raise RuntimeError(f"{self.name} exited early:\n{self.logs()[-3000:]}")
            try:
                return True if requests.get(url, timeout=1).status_code == 200 else None
            except requests.RequestException:
                return None

        try:
            wait_until(probe, timeout, f"{self.name} at {url}")
        except TimeoutError as err:
            raise TimeoutError(f"{err}\n{self.name} log:\n{self.logs()[-3000:]}") from None

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the child."""
        assert self._popen is not None
        self._popen.send_signal(signum)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; returns the exit status."""
        if self._popen is None:
            return None
        if self._popen.poll() is None:
            self._popen.send_signal(signal.SIGTERM)
            try:
                self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self._popen.pid, signal.SIGKILL)
                self._popen.wait()
        return self._popen.returncode

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

"""A real Prometheus Pushgateway (Debian's prometheus-pushgateway) on a free loopback port."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from demo.harness.processes import Process, free_port, require_binary


@dataclass(frozen=True)
class Pushgateway:
    """A running Pushgateway: its URL (for --push-gateway) and its scrape target."""

    url: str
    target: str
    process: Process


def pushgateway_process(work_dir: Path, port: int) -> Process:
    """The Pushgateway on 127.0.0.1:``port``, persisting to ``work_dir`` (not started)."""
    return Process(
        f"pushgateway-{port}",
        [
            require_binary("prometheus-pushgateway"),
            f"--web.listen-address=127.0.0.1:{port}",
            # Not Debian's default /var/lib/prometheus/pushgateway.data: a test's own file.
            f"--persistence.file={work_dir / f'pushgateway-{port}.data'}",
            "--log.level=warn",
        ],
        work_dir,
    )


@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[Pushgateway]:
    """A fresh Pushgateway for one test, stopped after it."""
    port = free_port()
    with pushgateway_process(tmp_path, port) as process:
        process.wait_http(f"http://127.0.0.1:{port}/-/ready")
        yield Pushgateway(f"http://127.0.0.1:{port}", f"127.0.0.1:{port}", process)
    assert not process.running()

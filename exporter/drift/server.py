"""``drift-exporter watch``: serve a monitor's metrics and poll its source until stopped."""

import logging
import threading

from prometheus_client import CollectorRegistry

from exporter.drift.app import create_watch_app
from exporter.drift.collector import DriftCollector
from exporter.drift.monitor import Monitor
from exporter.http import serving, stop_on_signals

log = logging.getLogger(__name__)


def run_watch(
    monitor: Monitor,
    host: str,
    port: int,
    interval: float,
    stop: threading.Event | None = None,
) -> None:
    """Serve ``/metrics`` and poll the source every ``interval`` seconds until SIGTERM/SIGINT."""
    stop = stop or threading.Event()
    registry = CollectorRegistry()
    registry.register(DriftCollector(monitor))
    app = create_watch_app(monitor, registry)
    stop_on_signals(stop)
    with serving(app, host, port) as server:
        log.info(
            "watching %s for model %s; /metrics on http://%s:%d, every %gs",
            monitor.source.path,
            monitor.model,
            host,
            server.server_port,
            interval,
        )
        while not stop.is_set():
            monitor.poll()
            stop.wait(interval)
    log.info("stopped")

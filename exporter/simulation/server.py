"""``drift-exporter simulate``: serve the simulation and advance it on a clock until stopped."""

import logging
import threading

from prometheus_client import CollectorRegistry

from exporter.http import serving, stop_on_signals
from exporter.simulation.app import create_app
from exporter.simulation.collector import SimulationCollector
from exporter.simulation.simulator import Simulator

log = logging.getLogger(__name__)


def run_simulation(
    simulator: Simulator,
    host: str,
    port: int,
    step_seconds: float,
    stop: threading.Event | None = None,
) -> None:
    """Serve ``/metrics`` and advance one day every ``step_seconds`` until SIGTERM/SIGINT.

    With ``step_seconds`` 0 the simulation jumps to its last day and holds there.
    """
    stop = stop or threading.Event()
    registry = CollectorRegistry()
    registry.register(SimulationCollector(simulator))
    app = create_app(simulator, registry)
    stop_on_signals(stop)
    if step_seconds == 0:
        while simulator.advance():
            pass
    with serving(app, host, port) as server:
        log.info(
            "serving %d model(s) on http://%s:%d/metrics, day %d of %d, one day every %ss",
            len(simulator.model_names()),
            host,
            server.server_port,
            simulator.day,
            simulator.days,
            step_seconds,
        )
        while not stop.wait(step_seconds if step_seconds > 0 else None):
            if simulator.advance():
                log.info("simulated day %d (%s)", simulator.day, simulator.date.date())
            elif step_seconds > 0:
                log.info("reached the last day (%d); holding", simulator.day)
                step_seconds = 0
    log.info("stopped")

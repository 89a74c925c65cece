"""Prometheus collector for the simulation: metric families built fresh at every scrape."""

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exporter.defaults import SCORE_METRIC
from exporter.simulation.simulator import Simulator


class SimulationCollector(Collector):
    """Exposes ``drift_score{model}`` and what a dashboard needs to explain it.

    >>> registry = CollectorRegistry()
    >>> registry.register(SimulationCollector(simulator))
    """

    def __init__(self, simulator: Simulator) -> None:
        self._simulator = simulator

    def collect(self) -> Iterator[Metric]:
        """Yield the current readings; called by the registry on each scrape."""
        sim = self._simulator
        readings = sim.readings()
        score = GaugeMetricFamily(
            SCORE_METRIC,
            "Data drift score of the model's current data against its reference "
            "(the alert rule fires above the threshold, 0.2 by default).",
            labels=["model"],
        )
        since = GaugeMetricFamily(
            "drift_days_since_reference",
            "Days since the model's reference data was set (its last retraining).",
            labels=["model"],
        )
        retrainings = CounterMetricFamily(
            "drift_retrainings",
            "Retrainings reported to the simulator (each sets a new reference).",
            labels=["model"],
        )
        info = GaugeMetricFamily(
            "drift_model_info",
            "Simulated model: its drift profile and random seed.",
            labels=["model", "profile", "seed"],
        )
        for reading in readings:
            score.add_metric([reading.model], reading.score)
            since.add_metric([reading.model], reading.days_since_reference)
            retrainings.add_metric([reading.model], reading.retrainings)
            info.add_metric([reading.model, reading.profile, str(reading.seed)], 1)
        yield score
        yield since
        yield retrainings
        yield info
        yield GaugeMetricFamily(
            "drift_simulation_day",
            "Current simulated day, counted from 0; one day passes every --step-seconds.",
            value=sim.day,
        )
        yield GaugeMetricFamily(
            "drift_simulation_days",
            "Length of the simulated story in days; the simulation holds at its last day.",
            value=sim.days,
        )
        yield GaugeMetricFamily(
            "drift_simulation_date_seconds",
            "Current simulated date as a Unix timestamp (the story's last day is today).",
            value=sim.date.timestamp(),
        )

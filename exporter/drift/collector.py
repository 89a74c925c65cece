"""Prometheus collector for ``watch``: metric families built from the monitor at each scrape."""

from collections.abc import Iterator
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exporter.defaults import SCORE_METRIC
from exporter.drift.monitor import Status
from exporter.drift.settings import ScoreUnavailable


class StatusSource(Protocol):
    """Anything that can tell the monitor's current state (the monitor, or a test's stand-in)."""

    def status(self) -> Status:
        """A consistent snapshot."""
        ...


class DriftCollector(Collector):
    """Exposes ``drift_score{model}``, per-feature scores, and the monitor's own health.

    >>> registry = CollectorRegistry()
    >>> registry.register(DriftCollector(monitor))
    """

    def __init__(self, monitor: StatusSource) -> None:
        self._monitor = monitor

    def collect(self) -> Iterator[Metric]:
        """Yield the current readings; called by the registry on each scrape."""
        status = self._monitor.status()
        model = status.model
        result = status.result
        score = GaugeMetricFamily(
            SCORE_METRIC,
            "Data drift score of the model's current window against its reference "
            "(the features' scores of the first method, aggregated); absent while it cannot be "
            "computed (see drift_score_unavailable).",
            labels=["model"],
        )
        feature_score = GaugeMetricFamily(
            "drift_feature_score",
            "Drift of one feature by one method (psi, js, ks, wasserstein) in the current window.",
            labels=["model", "feature", "method"],
        )
        missing = GaugeMetricFamily(
            "drift_feature_missing_values",
            "Missing values (empty, NaN, ±inf) of a feature in the current window.",
            labels=["model", "feature"],
        )
        unseen = GaugeMetricFamily(
            "drift_feature_unseen_values",
            "Values of a categorical feature, in the current window, of categories the "
            "reference does not have.",
            labels=["model", "feature"],
        )
        unavailable = GaugeMetricFamily(
            "drift_score_unavailable",
            "1 for the reason drift_score is not published now, 0 for the others.",
            labels=["model", "reason"],
        )
        if result is not None:
            if result.score is not None:
                score.add_metric([model], result.score)
            for feature in result.features:
                for method, value in feature.scores.items():
                    feature_score.add_metric([model, feature.feature, method], value)
                missing.add_metric([model, feature.feature], feature.missing)
                if feature.unseen is not None:
                    unseen.add_metric([model, feature.feature], feature.unseen)
        reason = result.unavailable if result is not None else ScoreUnavailable.NO_DATA
        for known in ScoreUnavailable.ALL:
            unavailable.add_metric([model, known], 1 if known == reason else 0)
        yield score
        yield feature_score
        yield missing
        yield unseen
        yield unavailable
        yield from self._health(status)

    def _health(self, status: Status) -> Iterator[Metric]:
        model = status.model
        result = status.result
        yield _gauge(
            "drift_window_rows", "Rows in the model's current window.", model, status.window_rows
        )
        yield _gauge(
            "drift_reference_rows",
            "Rows of the model's reference data.",
            model,
            status.reference_rows,
        )
        yield _gauge(
            "drift_last_computation_timestamp_seconds",
            "When the window was last scored (Unix time; 0: never). It moves only when new data "
            "arrives, so an old value means the data stopped.",
            model,
            status.computed_at or 0,
        )
        yield _gauge(
            "drift_computation_seconds",
            "How long the last scoring of the window took.",
            model,
            result.seconds if result is not None else 0,
        )
        files = CounterMetricFamily(
            "drift_input_files",
            "Current data files (or re-reads of the current file) taken in.",
            labels=["model"],
        )
        files.add_metric([model], status.files_read)
        yield files
        errors = CounterMetricFamily(
            "drift_input_errors",
            "Current data that could not be taken in, by reason; the last good scores stay "
            "published.",
            labels=["model", "reason"],
        )
        failing = GaugeMetricFamily(
            "drift_input_failing",
            "1 for the reason the latest input failed while no good input came after it.",
            labels=["model", "reason"],
        )
        for reason, count in status.errors.items():
            errors.add_metric([model, reason], count)
            failing.add_metric([model, reason], 1 if reason == status.failing else 0)
        yield errors
        yield failing
        yield _gauge(
            "drift_last_input_error_timestamp_seconds",
            "When current data last failed to be taken in (Unix time; 0: never).",
            model,
            status.last_error_at or 0,
        )


def _gauge(name: str, documentation: str, model: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=["model"])
    family.add_metric([model], value)
    return family

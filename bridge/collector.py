"""The bridge's Prometheus metrics (defined in :mod:`bridge.metrics`), read from the store at
each scrape.

Counters are kept in the store, incremented in the same transactions as the records they count,
so they never disagree with the audit trail, survive restarts, and are the same whichever server
process answers the scrape.
"""

import time
from collections import defaultdict
from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from bridge import __version__, metrics
from bridge.config import BridgeConfig
from bridge.metrics import DispatchOutcome, EpisodeOutcome, NotificationOutcome, RetrainingResult
from bridge.store import Store, StoreError
from bridge.store.pruning import Table
from bridge.store.records import AttemptOutcome, Decision


class BridgeCollector(Collector):
    """Exposes the store's counters and the outbox's current state."""

    def __init__(self, store: Store, config: BridgeConfig) -> None:
        self._store = store
        self._config = config

    def collect(self) -> Iterator[Metric]:
        """Yield every metric; called by the registry on each scrape."""
        info = GaugeMetricFamily(metrics.BUILD_INFO, "Version of the bridge.", labels=["version"])
        info.add_metric([__version__], 1)
        yield info
        up = GaugeMetricFamily(
            metrics.STORE_UP, "1 when the store could record (a write) at this scrape."
        )
        try:
            # A write, as an intake's: reads succeed on a read-only or full disk.
            self._store.ping()
            up.add_metric([], 1)
        except StoreError:
            up.add_metric([], 0)
        yield up
        try:
            values = self._read_counters()
            outbox = self._store.outbox(time.time())
            store_id = self._store.identity()
        except StoreError:
            return
        store = GaugeMetricFamily(
            metrics.STORE_INFO,
            "The store the counters come from: replicas sharing one database report the same"
            " store_id (and the same totals).",
            labels=["store_id", "kind"],
        )
        kind = "postgresql" if self._config.store.postgres is not None else "sqlite"
        store.add_metric([store_id, kind], 1)
        yield store
        yield from self._counters(values)
        yield from self._latency(values)
        yield from self._runs(values)
        yield _commit_batches(values)
        yield GaugeMetricFamily(
            metrics.OUTBOX_PENDING,
            "Dispatches waiting to be sent (or being sent).",
            value=outbox.pending,
        )
        yield GaugeMetricFamily(
            metrics.OUTBOX_OLDEST_PENDING_AGE_SECONDS,
            "Age of the oldest dispatch still waiting; 0 when none waits.",
            value=outbox.oldest_pending_age,
        )
        yield GaugeMetricFamily(
            metrics.DEAD_LETTERS,
            "Dispatches that gave up and wait for a manual retry.",
            value=outbox.dead,
        )

    def _read_counters(self) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
        values: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(dict)
        for name, labels, value in self._store.counters():
            values[name][tuple(sorted(labels.items()))] = value
        # Series that exist at 0 before the first event, so rate() and alerts work at once.
        for outcome in NotificationOutcome:
            values[metrics.NOTIFICATIONS_TOTAL].setdefault((("outcome", outcome.value),), 0.0)
        for decision in Decision:
            values[metrics.ALERTS_TOTAL].setdefault((("decision", decision.value),), 0.0)
        for target in self._config.targets:
            for dispatched in DispatchOutcome:
                values[metrics.DISPATCHES_TOTAL].setdefault(
                    (("outcome", dispatched.value), ("target", target)), 0.0
                )
            # The success series exists before the first attempt, so increase() over it sees
            # the first dispatch (a series that starts at 1 has no increase to show).
            values[metrics.DISPATCH_ATTEMPTS_TOTAL].setdefault(
                (
                    ("outcome", AttemptOutcome.SUCCESS.value),
                    ("reason", metrics.NO_REASON),
                    ("target", target),
                ),
                0.0,
            )
        for route in self._config.routes:
            for result in RetrainingResult:
                values[metrics.RETRAININGS_TOTAL].setdefault(
                    (("result", result.value), ("route", route.name), ("target", route.target)),
                    0.0,
                )
            for ended in EpisodeOutcome:
                values[metrics.EPISODES_TOTAL].setdefault(
                    (("outcome", ended.value), ("route", route.name)), 0.0
                )
        values[metrics.TRUNCATED_ALERTS_TOTAL].setdefault((), 0.0)
        values[metrics.TRUNCATED_ALERTS_FETCHED_TOTAL].setdefault((), 0.0)
        values[metrics.DISPATCH_RETRIES_REQUESTED_TOTAL].setdefault((), 0.0)
        for table in Table:
            values[metrics.STORE_PRUNED_ROWS_TOTAL].setdefault((("table", table.value),), 0.0)
        return values

    def _counters(
        self, values: dict[str, dict[tuple[tuple[str, str], ...], float]]
    ) -> Iterator[Metric]:
        for name, (help_text, label_names) in metrics.COUNTERS.items():
            family = CounterMetricFamily(
                name.removesuffix("_total"), help_text, labels=list(label_names)
            )
            for labels, value in sorted(values.get(name, {}).items()):
                by_name = dict(labels)
                family.add_metric([by_name.get(label, "") for label in label_names], value)
            yield family

    def _latency(
        self, values: dict[str, dict[tuple[tuple[str, str], ...], float]]
    ) -> Iterator[Metric]:
        family = HistogramMetricFamily(
            metrics.DISPATCH_LATENCY_SECONDS,
            "Seconds from the webhook's acknowledgement to the target accepting the dispatch "
            "(retries included).",
            labels=["target"],
        )
        buckets = values.get(metrics.DISPATCH_LATENCY_BUCKET, {})
        sums = values.get(metrics.DISPATCH_LATENCY_SUM, {})
        for target in sorted(set(self._config.targets) | {dict(k)["target"] for k in sums}):
            counts = {dict(k)["le"]: v for k, v in buckets.items() if dict(k)["target"] == target}
            family.add_metric(
                [target],
                [(repr(bound), counts.get(repr(bound), 0.0)) for bound in metrics.LATENCY_BUCKETS]
                + [("+Inf", counts.get("+Inf", 0.0))],
                sums.get((("target", target),), 0.0),
            )
        yield family

    def _route_targets(self) -> set[tuple[str, str]]:
        return {(route.name, route.target) for route in self._config.routes}

    def _runs(
        self, values: dict[str, dict[tuple[tuple[str, str], ...], float]]
    ) -> Iterator[Metric]:
        running = GaugeMetricFamily(
            metrics.RETRAININGS_RUNNING,
            "Retraining runs started and not finished yet (queued or running), by route and "
            "target.",
            labels=["route", "target"],
        )
        counts = {(route, target): n for route, target, n in self._store.running_runs()}
        for key in sorted(self._route_targets() | set(counts)):
            running.add_metric(list(key), counts.get(key, 0))
        yield running
        family = HistogramMetricFamily(
            metrics.RETRAINING_DURATION_SECONDS,
            "Seconds a retraining run took, as the CI system reports it, by route and target.",
            labels=["route", "target"],
        )
        buckets = values.get(metrics.RETRAINING_DURATION_BUCKET, {})
        sums = values.get(metrics.RETRAINING_DURATION_SUM, {})
        seen = {(dict(k)["route"], dict(k)["target"]) for k in sums}
        for route, target in sorted(self._route_targets() | seen):
            by_le = {
                dict(k)["le"]: v
                for k, v in buckets.items()
                if dict(k)["route"] == route and dict(k)["target"] == target
            }
            family.add_metric(
                [route, target],
                [(repr(b), by_le.get(repr(b), 0.0)) for b in metrics.DURATION_BUCKETS]
                + [("+Inf", by_le.get("+Inf", 0.0))],
                sums.get((("route", route), ("target", target)), 0.0),
            )
        yield family


def _commit_batches(values: dict[str, dict[tuple[tuple[str, str], ...], float]]) -> Metric:
    family = HistogramMetricFamily(
        metrics.STORE_COMMIT_BATCH_SIZE,
        "Intakes committed together in one transaction (group commit).",
    )
    counts = {
        dict(k)["le"]: v for k, v in values.get(metrics.STORE_COMMIT_BATCH_BUCKET, {}).items()
    }
    family.add_metric(
        [],
        [(repr(bound), counts.get(repr(bound), 0.0)) for bound in metrics.COMMIT_BATCH_BUCKETS]
        + [("+Inf", counts.get("+Inf", 0.0))],
        values.get(metrics.STORE_COMMIT_BATCH_SUM, {}).get((), 0.0),
    )
    return family

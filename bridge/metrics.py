"""The bridge's Prometheus metrics, read from the store at each scrape.

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

from bridge import __version__
from bridge.config import BridgeConfig
from bridge.store import Store, StoreError
from bridge.store.records import LATENCY_BUCKETS, LATENCY_METRIC, Decision

# name -> (help, label names, label values pre-initialised at 0 so series exist from the start)
COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "drift_bridge_notifications_total": (
        "Webhook requests by outcome: accepted (recorded), invalid, unauthorized, too_large.",
        ("outcome",),
    ),
    "drift_bridge_alerts_total": (
        "Alerts in accepted notifications by decision (new_episode, duplicate, "
        "cooldown_skipped, resolved, ...).",
        ("decision",),
    ),
    "drift_bridge_truncated_alerts_total": (
        "Alerts Alertmanager left out of notifications (max_alerts); see its API for them.",
        (),
    ),
    "drift_bridge_truncated_alerts_fetched_total": (
        "Alerts left out of notifications that were fetched from Alertmanager's API and decided.",
        (),
    ),
    "drift_bridge_dispatches_total": (
        "Dispatches by target and outcome: created, dry_run, succeeded, dead.",
        ("target", "outcome"),
    ),
    "drift_bridge_dispatch_attempts_total": (
        "Attempts to send a dispatch by target, outcome (success, retry, failed) and reason.",
        ("target", "outcome", "reason"),
    ),
    "drift_bridge_dispatch_retries_requested_total": (
        "Dead-lettered dispatches put back in the outbox by hand.",
        (),
    ),
}
_OUTCOMES = ("accepted", "invalid", "unauthorized", "too_large")
_DISPATCH_OUTCOMES = ("created", "dry_run", "succeeded", "dead")


class BridgeCollector(Collector):
    """Exposes the store's counters and the outbox's current state."""

    def __init__(self, store: Store, config: BridgeConfig) -> None:
        self._store = store
        self._config = config

    def collect(self) -> Iterator[Metric]:
        """Yield every metric; called by the registry on each scrape."""
        info = GaugeMetricFamily(
            "drift_bridge_build_info", "Version of the bridge.", labels=["version"]
        )
        info.add_metric([__version__], 1)
        yield info
        up = GaugeMetricFamily(
            "drift_bridge_store_up", "1 when the store could record (a write) at this scrape."
        )
        try:
            self._store.ping()
            up.add_metric([], 1)
        except StoreError:
            up.add_metric([], 0)
        yield up
        try:
            values = self._read_counters()
            outbox = self._store.outbox(time.time())
        except StoreError:
            return
        yield from self._counters(values)
        yield from self._latency(values)
        yield GaugeMetricFamily(
            "drift_bridge_outbox_pending",
            "Dispatches waiting to be sent (or being sent).",
            value=outbox.pending,
        )
        yield GaugeMetricFamily(
            "drift_bridge_outbox_oldest_pending_age_seconds",
            "Age of the oldest dispatch still waiting; 0 when none waits.",
            value=outbox.oldest_pending_age,
        )
        yield GaugeMetricFamily(
            "drift_bridge_dead_letters",
            "Dispatches that gave up and wait for a manual retry.",
            value=outbox.dead,
        )

    def _read_counters(self) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
        values: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(dict)
        for name, labels, value in self._store.counters():
            values[name][tuple(sorted(labels.items()))] = value
        # Series that exist at 0 before the first event, so rate() and alerts work at once.
        for outcome in _OUTCOMES:
            values["drift_bridge_notifications_total"].setdefault((("outcome", outcome),), 0.0)
        for decision in Decision:
            values["drift_bridge_alerts_total"].setdefault((("decision", decision.value),), 0.0)
        for target in self._config.targets:
            for outcome in _DISPATCH_OUTCOMES:
                values["drift_bridge_dispatches_total"].setdefault(
                    (("outcome", outcome), ("target", target)), 0.0
                )
            # The success series exists before the first attempt, so increase() over it sees
            # the first dispatch (a series that starts at 1 has no increase to show).
            values["drift_bridge_dispatch_attempts_total"].setdefault(
                (("outcome", "success"), ("reason", "none"), ("target", target)), 0.0
            )
        values["drift_bridge_truncated_alerts_total"].setdefault((), 0.0)
        values["drift_bridge_truncated_alerts_fetched_total"].setdefault((), 0.0)
        values["drift_bridge_dispatch_retries_requested_total"].setdefault((), 0.0)
        return values

    def _counters(
        self, values: dict[str, dict[tuple[tuple[str, str], ...], float]]
    ) -> Iterator[Metric]:
        for name, (help_text, label_names) in COUNTERS.items():
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
            LATENCY_METRIC,
            "Seconds from the webhook's acknowledgement to the target accepting the dispatch "
            "(retries included).",
            labels=["target"],
        )
        buckets = values.get(f"{LATENCY_METRIC}_bucket", {})
        sums = values.get(f"{LATENCY_METRIC}_sum", {})
        for target in sorted(set(self._config.targets) | {dict(k)["target"] for k in sums}):
            counts = {dict(k)["le"]: v for k, v in buckets.items() if dict(k)["target"] == target}
            family.add_metric(
                [target],
                [(repr(bound), counts.get(repr(bound), 0.0)) for bound in LATENCY_BUCKETS]
                + [("+Inf", counts.get("+Inf", 0.0))],
                sums.get((("target", target),), 0.0),
            )
        yield family

"""Every metric the bridge exports, defined once: producers import these names.

Counters are kept in the store and incremented in the same transaction as the records they
count (see :mod:`bridge.collector`, which exposes them at each scrape). A metric name is never
written as a string anywhere else in ``bridge/``, so a typo is an import error instead of a
counter written to the store and never exported. This module imports nothing from the bridge,
so the store, the intake and the web layer can all import it.
"""

from enum import StrEnum

BUILD_INFO = "drift_bridge_build_info"
STORE_UP = "drift_bridge_store_up"
# Which store a bridge's counters come from: replicas sharing one report the same store_id.
STORE_INFO = "drift_bridge_store_info"

# Counters (stored by name, with the ``_total`` suffix).
NOTIFICATIONS_TOTAL = "drift_bridge_notifications_total"
ALERTS_TOTAL = "drift_bridge_alerts_total"
TRUNCATED_ALERTS_TOTAL = "drift_bridge_truncated_alerts_total"
TRUNCATED_ALERTS_FETCHED_TOTAL = "drift_bridge_truncated_alerts_fetched_total"
DISPATCHES_TOTAL = "drift_bridge_dispatches_total"
DISPATCH_ATTEMPTS_TOTAL = "drift_bridge_dispatch_attempts_total"
DISPATCH_RETRIES_REQUESTED_TOTAL = "drift_bridge_dispatch_retries_requested_total"
STORE_PRUNED_ROWS_TOTAL = "drift_bridge_store_pruned_rows_total"

# A histogram, stored as its three kinds of series.
DISPATCH_LATENCY_SECONDS = "drift_bridge_dispatch_latency_seconds"
DISPATCH_LATENCY_BUCKET = f"{DISPATCH_LATENCY_SECONDS}_bucket"
DISPATCH_LATENCY_SUM = f"{DISPATCH_LATENCY_SECONDS}_sum"
DISPATCH_LATENCY_COUNT = f"{DISPATCH_LATENCY_SECONDS}_count"
# Seconds: most dispatches take milliseconds, retried ones hours.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0)

# The closed loop (issue 11): retraining runs followed to their result, and how episodes ended.
RETRAININGS_TOTAL = "drift_bridge_retrainings_total"
RETRAININGS_RUNNING = "drift_bridge_retrainings_running"  # a gauge, read from the runs
EPISODES_TOTAL = "drift_bridge_episodes_total"
RETRAINING_DURATION_SECONDS = "drift_bridge_retraining_duration_seconds"
RETRAINING_DURATION_BUCKET = f"{RETRAINING_DURATION_SECONDS}_bucket"
RETRAINING_DURATION_SUM = f"{RETRAINING_DURATION_SECONDS}_sum"
RETRAINING_DURATION_COUNT = f"{RETRAINING_DURATION_SECONDS}_count"
# Seconds: retraining jobs take minutes to hours.
DURATION_BUCKETS = (30.0, 60.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 43200.0, 86400.0)
# A histogram of how many intakes shared one commit (group commit), stored like the latency.
STORE_COMMIT_BATCH_SIZE = "drift_bridge_store_commit_batch_size"
STORE_COMMIT_BATCH_BUCKET = f"{STORE_COMMIT_BATCH_SIZE}_bucket"
STORE_COMMIT_BATCH_SUM = f"{STORE_COMMIT_BATCH_SIZE}_sum"
STORE_COMMIT_BATCH_COUNT = f"{STORE_COMMIT_BATCH_SIZE}_count"
COMMIT_BATCH_BUCKETS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)

# Gauges, read from the outbox at each scrape.
OUTBOX_PENDING = "drift_bridge_outbox_pending"
OUTBOX_OLDEST_PENDING_AGE_SECONDS = "drift_bridge_outbox_oldest_pending_age_seconds"
DEAD_LETTERS = "drift_bridge_dead_letters"


class NotificationOutcome(StrEnum):
    """The ``outcome`` label of :data:`NOTIFICATIONS_TOTAL`: what became of a webhook request."""

    ACCEPTED = "accepted"  # recorded
    INVALID = "invalid"
    UNAUTHORIZED = "unauthorized"
    TOO_LARGE = "too_large"


class DispatchOutcome(StrEnum):
    """The ``outcome`` label of :data:`DISPATCHES_TOTAL`."""

    CREATED = "created"
    DRY_RUN = "dry_run"
    SUCCEEDED = "succeeded"
    DEAD = "dead"


class RetrainingResult(StrEnum):
    """How a retraining run ended: the ``result`` label of :data:`RETRAININGS_TOTAL`."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


class EpisodeOutcome(StrEnum):
    """How an episode ended once its retraining finished: the ``outcome`` of episodes."""

    RESOLVED_AFTER_RETRAINING = "resolved_after_retraining"  # within the route's verify_within
    DRIFT_PERSISTED = "drift_persisted"
    RETRAINING_FAILED = "retraining_failed"


# The ``reason`` label of an attempt that failed for no reason (it succeeded).
NO_REASON = "none"

# name -> (help, label names)
COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    NOTIFICATIONS_TOTAL: (
        "Webhook requests by outcome: accepted (recorded), invalid, unauthorized, too_large.",
        ("outcome",),
    ),
    ALERTS_TOTAL: (
        "Alerts in accepted notifications by decision (new_episode, duplicate, "
        "cooldown_skipped, resolved, ...).",
        ("decision",),
    ),
    TRUNCATED_ALERTS_TOTAL: (
        "Alerts Alertmanager left out of notifications (max_alerts); see its API for them.",
        (),
    ),
    TRUNCATED_ALERTS_FETCHED_TOTAL: (
        "Alerts left out of notifications that were fetched from Alertmanager's API and decided.",
        (),
    ),
    DISPATCHES_TOTAL: (
        "Dispatches by target and outcome: created, dry_run, succeeded, dead.",
        ("target", "outcome"),
    ),
    DISPATCH_ATTEMPTS_TOTAL: (
        "Attempts to send a dispatch by target, outcome (success, retry, failed) and reason.",
        ("target", "outcome", "reason"),
    ),
    DISPATCH_RETRIES_REQUESTED_TOTAL: (
        "Dead-lettered dispatches put back in the outbox by hand.",
        (),
    ),
    RETRAININGS_TOTAL: (
        "Retraining runs followed to their end, by route, target and result (succeeded, "
        "failed, cancelled, timed_out).",
        ("route", "target", "result"),
    ),
    EPISODES_TOTAL: (
        "Drift episodes judged once their retraining finished, by route and outcome "
        "(resolved_after_retraining, drift_persisted, retraining_failed).",
        ("route", "outcome"),
    ),
    STORE_PRUNED_ROWS_TOTAL: (
        "Records deleted by retention, by table (notifications, decisions, episodes, "
        "dispatches, attempts).",
        ("table",),
    ),
}

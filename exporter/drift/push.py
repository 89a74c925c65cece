"""Publishing a batch job's scores through the Prometheus Pushgateway.

A batch job (``score`` from cron, the Spark job) ends before Prometheus could scrape it, so it
pushes: the same series ``watch`` serves (``drift_score{model}``, per-feature scores, the
computation timestamp, ...; built by the same collector), as one group keyed by ``job`` and
``model``. A push replaces the whole group, so a feature that is no longer scored disappears.
``drift_max_age_seconds`` tells Prometheus how old the group may get (the job's schedule and a
margin); the ``DriftScoreStale`` alert fires past it.
"""

import argparse
import time
import urllib.error
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

from exporter.arguments import duration
from exporter.drift.collector import DriftCollector
from exporter.drift.monitor import Status
from exporter.drift.scoring import WindowScore

MAX_AGE_METRIC = "drift_max_age_seconds"
DEFAULT_JOB = "drift-batch"


@dataclass(frozen=True)
class PushTarget:
    """Where and as what to push: the gateway's URL, the ``job`` label, the allowed age."""

    url: str
    job: str
    max_age: float | None


class _Snapshot:
    def __init__(self, status: Status) -> None:
        self._status = status

    def status(self) -> Status:
        return self._status


def push_registry(
    model: str,
    result: WindowScore,
    reference_rows: int,
    computed_at: float,
    max_age: float | None,
    files: int = 0,
) -> CollectorRegistry:
    """A fresh registry holding what one batch computation publishes."""
    status = Status(
        model=model,
        reference_rows=reference_rows,
        window_rows=result.rows,
        result=result,
        computed_at=computed_at,
        errors={},
        failing=None,
        last_error=None,
        last_error_at=None,
        files_read=files,
    )
    registry = CollectorRegistry()
    registry.register(DriftCollector(_Snapshot(status)))
    if max_age is not None:
        Gauge(
            MAX_AGE_METRIC,
            "How old drift_last_computation_timestamp_seconds of a pushed group may get before "
            "DriftScoreStale fires (the pushing job's schedule and a margin).",
            ["model"],
            registry=registry,
        ).labels(model).set(max_age)
    return registry


def push_scores(
    target: PushTarget,
    model: str,
    result: WindowScore,
    reference_rows: int,
    computed_at: float | None = None,
    files: int = 0,
) -> None:
    """Push to the gateway (PUT: the group is replaced); ValueError saying why it failed."""
    registry = push_registry(
        model,
        result,
        reference_rows=reference_rows,
        computed_at=computed_at or time.time(),
        max_age=target.max_age,
        files=files,
    )
    try:
        push_to_gateway(
            target.url,
            job=target.job,
            registry=registry,
            grouping_key={"model": model},
            timeout=30,
        )
    except (urllib.error.URLError, OSError) as err:
        raise ValueError(f"--push-gateway {target.url}: push failed: {err}") from None


def add_push_arguments(parser: argparse.ArgumentParser) -> None:
    """``--push-gateway``, ``--push-job`` and ``--max-age``, the same for every batch command."""
    parser.add_argument(
        "--push-gateway",
        metavar="URL",
        help="push the scores to this Prometheus Pushgateway (e.g. http://pushgateway:9091); "
        "needs --model",
    )
    parser.add_argument(
        "--push-job",
        default=DEFAULT_JOB,
        metavar="NAME",
        help=f"the job label of the pushed group (default {DEFAULT_JOB}); the model label is "
        "the other grouping key",
    )
    parser.add_argument(
        "--max-age",
        type=duration,
        metavar="DURATION",
        help="push drift_max_age_seconds: DriftScoreStale fires when the pushed score is "
        "older (the job's schedule and a margin, e.g. 2h for an hourly job)",
    )


def push_target(args: argparse.Namespace) -> PushTarget | None:
    """The push the flags ask for, or None; ValueError for flags that do not fit together."""
    if not args.push_gateway:
        if args.max_age is not None:
            raise ValueError("--max-age needs --push-gateway")
        return None
    if not (args.model or "").strip():
        raise ValueError("--push-gateway needs --model (the model label of the pushed scores)")
    if not args.push_job.strip():
        raise ValueError("--push-job must not be empty")
    return PushTarget(args.push_gateway, args.push_job, args.max_age)

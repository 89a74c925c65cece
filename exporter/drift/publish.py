"""The ending every batch command shares: print the report, push it if asked, the exit status."""

import argparse
import logging
import sys
import time
from typing import Any

from exporter.arguments import finite_float
from exporter.defaults import DEFAULT_THRESHOLD
from exporter.drift.push import push_scores, push_target
from exporter.drift.reference import Reference
from exporter.drift.scoring import WindowScore
from exporter.drift.settings import DriftSettings

log = logging.getLogger(__name__)


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """``--format`` and ``--threshold``, as ``score`` has them."""
    parser.add_argument("--format", choices=["table", "json"], default="table")
    parser.add_argument(
        "--threshold",
        type=finite_float,
        default=DEFAULT_THRESHOLD,
        help="exit 1 when drift_score is above this (default 0.2, the alert's)",
    )


def finish(
    args: argparse.Namespace,
    result: WindowScore,
    settings: DriftSettings,
    reference: Reference,
    current: dict[str, Any],
    files: int = 0,
) -> int:
    """Print the report, push it if asked; 0 (no drift), 1 (drift), 3 (no score)."""
    from exporter.drift.report import format_json, format_table, report_dict

    computed_at = time.time()
    report = report_dict(
        result,
        settings,
        args.model,
        reference={
            "path": str(args.reference),
            "rows": reference.rows,
            "fit_seconds": round(reference.fit_seconds, 6),
            "timestamp_column": reference.timestamp_column,
            "left_out": dict(reference.left_out),
        },
        current=current,
    )
    print(format_json(report) if args.format == "json" else format_table(report, settings.methods))
    target = push_target(args)
    if target is not None:
        push_scores(
            target,
            model=args.model,
            result=result,
            reference_rows=reference.rows,
            computed_at=computed_at,
            files=files,
        )
        log.info("pushed the scores of %s to %s (job %s)", args.model, target.url, target.job)
    if result.score is None:
        print(f"warning: no drift score: {result.detail}", file=sys.stderr)
        return 3
    return 1 if result.score > args.threshold else 0

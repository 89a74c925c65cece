"""``drift-exporter watch`` and ``drift-exporter score``: their flags and what they run."""

import argparse
import logging
import sys
from pathlib import Path

from exporter.arguments import duration, finite_float, positive_int
from exporter.defaults import DEFAULT_LISTEN
from exporter.drift.publish import add_report_arguments, finish
from exporter.drift.push import add_push_arguments, push_target
from exporter.drift.reference import Reference, fit_reference
from exporter.drift.settings import (
    AGGREGATIONS,
    DEFAULT_BINS,
    DEFAULT_FEATURE_THRESHOLD,
    DEFAULT_MIN_ROWS,
    DEFAULT_WINDOW_ROWS,
    METHODS,
    DriftSettings,
)
from exporter.drift.sources import read_table
from exporter.drift.window import WindowSpec

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = "60s"
# Above this much input on disk, `score --progress auto` draws a bar (on a terminal only).
PROGRESS_BYTES = 16 * 1024 * 1024


def names(text: str) -> list[str]:
    """Names from ``a,b,c``."""
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated names, got {text!r}")
    return names


def add_scoring_arguments(parser: argparse.ArgumentParser, window_default: str) -> None:
    """The flags every scoring command shares."""
    _add_reference_arguments(parser)
    _add_method_arguments(parser)
    _add_window_arguments(parser, window_default)


def _add_reference_arguments(parser: argparse.ArgumentParser) -> None:
    """What to compare: the reference and its features."""
    parser.add_argument(
        "--reference",
        type=Path,
        required=True,
        metavar="FILE",
        help="reference CSV or Parquet, or a reference saved by `fit` (.json)",
    )
    parser.add_argument(
        "--features",
        type=names,
        action="extend",
        default=[],
        metavar="A,B,...",
        help="columns to score (default: all but --timestamp-column)",
    )
    parser.add_argument(
        "--categorical",
        type=names,
        action="extend",
        default=[],
        metavar="A,B,...",
        help="numeric columns to treat as categories (text and true/false columns always are)",
    )


def _add_method_arguments(parser: argparse.ArgumentParser) -> None:
    """How to compare: the statistics, their aggregation and their bins."""
    parser.add_argument(
        "--method",
        dest="methods",
        type=names,
        action="extend",
        metavar="METHOD",
        help=f"{', '.join(METHODS)}; repeat or list several; the first makes drift_score "
        "(default psi)",
    )
    parser.add_argument(
        "--aggregate",
        choices=AGGREGATIONS,
        default="max",
        help="how feature scores make drift_score: max, mean, or the share of features above "
        "--feature-threshold (default max)",
    )
    parser.add_argument(
        "--feature-threshold",
        type=finite_float,
        default=DEFAULT_FEATURE_THRESHOLD,
        help=f"a feature counts as drifted above this (default {DEFAULT_FEATURE_THRESHOLD})",
    )
    parser.add_argument(
        "--bins",
        type=positive_int,
        default=DEFAULT_BINS,
        help=f"PSI/JS bins, at reference quantiles (default {DEFAULT_BINS})",
    )
    parser.add_argument(
        "--min-rows",
        type=positive_int,
        default=DEFAULT_MIN_ROWS,
        help=f"no score below this many rows (values, per feature) (default {DEFAULT_MIN_ROWS}); "
        "PSI is biased upward on small windows",
    )


def _add_window_arguments(parser: argparse.ArgumentParser, window_default: str) -> None:
    """Which current rows: the latest N, or those within a time of the newest."""
    window = parser.add_mutually_exclusive_group()
    window.add_argument(
        "--window-rows",
        type=positive_int,
        metavar="N",
        help=f"score the latest N rows (default {window_default})",
    )
    window.add_argument(
        "--window-time",
        type=duration,
        metavar="DURATION",
        help="score the rows within DURATION (e.g. 1h) of the newest --timestamp-column",
    )
    parser.add_argument(
        "--timestamp-column", metavar="COLUMN", help="time of each row (needed by --window-time)"
    )


def add_drift_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``watch`` and ``score`` to the ``drift-exporter`` parser."""
    _add_watch(commands)
    _add_score(commands)


def _add_watch(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """``drift-exporter watch``: its flags."""
    watch = commands.add_parser(
        "watch",
        help="score current data against a reference as it arrives; serve /metrics",
        description="Score a model's current data (a CSV/Parquet file, re-read when it changes, "
        "or a directory whose new files are read as they appear) against its reference, and "
        "serve the scores on /metrics.",
    )
    watch.add_argument(
        "--current", type=Path, required=True, metavar="PATH", help="file or directory"
    )
    watch.add_argument("--model", required=True, help="model name (the model label)")
    add_scoring_arguments(watch, f"{DEFAULT_WINDOW_ROWS}")
    watch.add_argument(
        "--interval",
        type=duration,
        default=duration(DEFAULT_INTERVAL),
        metavar="DURATION",
        help=f"how often to look for new data (default {DEFAULT_INTERVAL})",
    )
    watch.add_argument(
        "--web.listen-address",
        dest="listen",
        default=DEFAULT_LISTEN,
        help=f"address to serve /metrics on (default {DEFAULT_LISTEN})",
    )


def _add_score(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """``drift-exporter score``: its flags."""
    score = commands.add_parser(
        "score",
        help="one-shot drift report of current data against a reference; exit 1 on drift",
        description="Score current data against a reference once and print the report. Exit "
        "status: 0 drift_score at or below --threshold, 1 above, 3 no score (too little data), "
        "2 error.",
    )
    score.add_argument(
        "--current",
        type=Path,
        required=True,
        metavar="PATH",
        help="file, or directory (its CSV/Parquet files in name order)",
    )
    score.add_argument("--model", help="model name shown in the report")
    add_scoring_arguments(score, "all rows")
    add_report_arguments(score)
    score.add_argument(
        "--progress",
        choices=["auto", "always", "never"],
        default="auto",
        help="progress bar on stderr (auto: on a terminal, for inputs over 16 MiB)",
    )
    add_push_arguments(score)


def settings_from(args: argparse.Namespace) -> DriftSettings:
    """The scoring settings the flags ask for (validated)."""
    return DriftSettings(
        methods=tuple(args.methods or ["psi"]),
        aggregation=args.aggregate,
        feature_threshold=args.feature_threshold,
        bins=args.bins,
        min_rows=args.min_rows,
        categorical=frozenset(args.categorical),
    )


def window_from(
    args: argparse.Namespace, default_rows: int | None, reference: Reference
) -> WindowSpec:
    """The window the flags ask for (the timestamp: the named or the found date/time column)."""
    rows = args.window_rows
    if rows is None and args.window_time is None:
        rows = default_rows
    # A saved reference (fit) keeps no timestamp column: the flag then names it.
    timestamp = args.timestamp_column or reference.timestamp_column
    if args.window_time is not None and timestamp is None:
        raise ValueError(
            "--window-time needs --timestamp-column (the reference has no date/time column)"
        )
    return WindowSpec(rows, args.window_time, timestamp)


def load_reference(
    args: argparse.Namespace, settings: DriftSettings, saved_only: bool = False
) -> Reference:
    """Read and fit the reference, or read a saved one; any problem is fatal (ValueError)."""
    from exporter.drift.reference_file import is_reference_file, load_reference_file, select

    if is_reference_file(args.reference):
        if args.categorical:
            raise ValueError(
                f"--categorical: {args.reference} was fitted with its categorical columns; "
                "fit it again to change them"
            )
        saved = load_reference_file(args.reference, settings.bins)
        return select(saved, args.features, args.reference)
    if saved_only:
        raise ValueError(
            f"--reference {args.reference}: expected a reference saved by "
            "`drift-exporter fit` (.json)"
        )
    frame = read_table(args.reference)
    if args.timestamp_column and args.timestamp_column in args.features:
        raise ValueError(f"--timestamp-column {args.timestamp_column} cannot also be a feature")
    return fit_reference(
        frame,
        settings,
        args.features,
        source=str(args.reference),
        timestamp_column=args.timestamp_column,
    )


def run_watch_command(args: argparse.Namespace) -> int:
    """``drift-exporter watch``."""
    from common.addresses import parse_listen_address
    from exporter.drift.monitor import Monitor
    from exporter.drift.server import run_watch
    from exporter.drift.sources import Source
    from exporter.drift.window import Window

    host, port = parse_listen_address(args.listen)
    if not args.model.strip():
        raise ValueError("--model must not be empty")
    settings = settings_from(args)
    reference = load_reference(args, settings)
    spec = window_from(args, DEFAULT_WINDOW_ROWS, reference)
    window = Window(spec, list(reference.columns))
    monitor = Monitor(args.model, reference, settings, window, Source(args.current))
    run_watch(monitor, host, port, args.interval)
    return 0


def run_score_command(args: argparse.Namespace) -> int:
    """``drift-exporter score``; returns 0 (no drift), 1 (drift), 3 (no score)."""
    from exporter.drift.progress import Progress
    from exporter.drift.scoring import score_window
    from exporter.drift.sources import data_files
    from exporter.drift.window import Window

    push_target(args)  # bad push flags stop before any data is read
    settings = settings_from(args)
    reference = load_reference(args, settings)
    spec = window_from(args, None, reference)
    files = data_files(args.current)
    size = sum(path.stat().st_size for path in files)
    show = args.progress == "always" or (
        args.progress == "auto" and sys.stderr.isatty() and size >= PROGRESS_BYTES
    )
    window = Window(spec, list(reference.columns))
    with Progress("reading", len(files), sys.stderr, show) as bar:
        for path in files:
            frame = read_table(path)
            reference.check(frame, str(path))
            window.extend(window.prepare(frame, str(path)))
            del frame
            bar.advance()
    with Progress("scoring", len(reference.columns), sys.stderr, show) as bar:
        result = score_window(
            reference, window.rows, window.column, settings, lambda _: bar.advance()
        )
    current = {"path": str(args.current), "files": len(files)}
    return finish(
        args,
        result=result,
        settings=settings,
        reference=reference,
        current=current,
        files=len(files),
    )

"""``drift-exporter fit`` (save a fitted reference) and ``spark-score`` (score it on Spark)."""

import argparse
import logging
import warnings
from pathlib import Path

import pandas as pd

from exporter.arguments import positive_int
from exporter.drift.commands import add_scoring_arguments, load_reference, names, settings_from
from exporter.drift.errors import UNREADABLE, InputError
from exporter.drift.publish import add_report_arguments, finish
from exporter.drift.push import add_push_arguments, push_target
from exporter.drift.reference_file import save_reference
from exporter.drift.settings import DEFAULT_BINS, DriftSettings

log = logging.getLogger(__name__)


def add_batch_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``fit`` and ``spark-score`` to the ``drift-exporter`` parser."""
    _add_fit(commands)
    _add_spark_score(commands)


def _add_fit(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """``drift-exporter fit``: its flags."""
    fit = commands.add_parser(
        "fit",
        help="fit a reference once and save it (for spark-score, or score without refitting)",
        description="Fit the reference (bin edges, categories, a quantile grid for KS and "
        "Wasserstein) and save it as JSON; spark-score and score take the saved file as "
        "--reference.",
    )
    fit.add_argument("--reference", type=Path, required=True, metavar="FILE", help="CSV/Parquet")
    fit.add_argument("--out", type=Path, required=True, metavar="FILE", help="the .json to write")
    fit.add_argument(
        "--features",
        type=names,
        action="extend",
        default=[],
        metavar="A,B,...",
        help="columns to fit (default: all but --timestamp-column)",
    )
    fit.add_argument(
        "--categorical",
        type=names,
        action="extend",
        default=[],
        metavar="A,B,...",
        help="numeric columns to treat as categories (text and true/false columns always are)",
    )
    fit.add_argument(
        "--bins",
        type=positive_int,
        default=DEFAULT_BINS,
        help=f"PSI/JS bins, at reference quantiles (default {DEFAULT_BINS}); scoring the "
        "saved reference needs the same --bins",
    )
    fit.add_argument("--timestamp-column", metavar="COLUMN", help="left out of the features")


def _add_spark_score(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """``drift-exporter spark-score``: its flags."""
    spark = commands.add_parser(
        "spark-score",
        help="score a table or Parquet data on Spark against a saved reference",
        description="Score current data on Spark (one pass of sums over any number of rows) "
        "against a reference saved by `fit`, print the report as `score` does, and optionally "
        "push it to a Pushgateway. Exit status as score's: 0 no drift, 1 drift, 3 no score, 2 "
        "error. Needs pip install 'drift-retrain-bridge[spark]'.",
    )
    source = spark.add_mutually_exclusive_group(required=True)
    source.add_argument("--current", metavar="PATH", help="Parquet file or directory (any URI)")
    source.add_argument("--table", metavar="NAME", help="a table of the Spark catalog")
    spark.add_argument("--model", help="model name (the model label when pushing)")
    add_scoring_arguments(spark, "every row (Spark has no row order)")
    spark.add_argument(
        "--window-end",
        metavar="TIME",
        help="with --window-time: the window ends here (ISO time, UTC without a zone) rather "
        "than at the newest timestamp",
    )
    spark.add_argument("--master", help="Spark master (default: spark-submit's, or local[*])")
    add_report_arguments(spark)
    add_push_arguments(spark)


def run_fit_command(args: argparse.Namespace) -> int:
    """``drift-exporter fit``."""
    settings = DriftSettings(bins=args.bins, categorical=frozenset(args.categorical))
    reference = load_reference(args, settings)
    save_reference(reference, settings.bins, args.out)
    print(
        f"wrote {args.out}: {len(reference.columns)} feature(s) of {reference.rows} rows, "
        f"fitted in {reference.fit_seconds:.3f}s"
    )
    return 0


def run_spark_score_command(args: argparse.Namespace) -> int:
    """``drift-exporter spark-score``; returns 0 (no drift), 1 (drift), 3 (no score)."""
    from exporter.drift.spark_job import CurrentData, build_session, read_current, score_spark

    if args.window_rows is not None:
        raise ValueError("--window-rows needs an order of rows; on Spark use --window-time")
    if args.window_end is not None and args.window_time is None:
        raise ValueError("--window-end needs --window-time")
    push_target(args)  # bad push flags stop the job before Spark starts
    settings = settings_from(args)
    reference = load_reference(args, settings, saved_only=True)
    current = CurrentData(
        parquet=args.current,
        table=args.table,
        timestamp_column=args.timestamp_column,
        seconds=args.window_time,
        end=_seconds(args.window_end) if args.window_end else None,
    )
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise ValueError(
            "spark-score needs pyspark: pip install 'drift-retrain-bridge[spark]'"
        ) from None
    # pyspark warns about pandas 3 on every pandas UDF; the job uses only numpy on its batches.
    warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas", FutureWarning)
    from pyspark.errors import AnalysisException

    spark = build_session(args.master)
    spark.sparkContext.setLogLevel("ERROR")
    source = args.current or args.table
    try:
        frame = read_current(spark, current)
        result = score_spark(frame, reference, settings, source)
    except AnalysisException as err:
        # No such path or table, a malformed name: Spark's first line says which.
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(UNREADABLE, f"{source}: cannot read: {first}") from None
    described = {**current.describe(), "engine": "spark"}
    return finish(args, result=result, settings=settings, reference=reference, current=described)


def _seconds(text: str) -> float:
    try:
        stamp = pd.Timestamp(text)
    except ValueError:
        raise ValueError(f"--window-end: {text!r} is not a date/time") from None
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return float(stamp.timestamp())

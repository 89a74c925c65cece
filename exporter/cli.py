"""``drift-exporter``: simulate, print, check and plot drift scores; score real data.

Exit status of ``check`` and ``score``: 0 the score is within the threshold, 1 it is above
(drift), 3 there is no score (no data, too little data); 2 for any error (bad input, bad flags).
"""

import argparse
import logging
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from common.addresses import parse_listen_address
from exporter import __version__
from exporter.arguments import finite_float, non_negative_float, positive_int
from exporter.check import (
    EmptyDataWarning,
    check_drift_and_trigger,
    read_scores_csv,
)
from exporter.defaults import DEFAULT_LISTEN, DEFAULT_THRESHOLD
from exporter.drift.batch_commands import (
    add_batch_commands,
    run_fit_command,
    run_spark_score_command,
)
from exporter.drift.commands import add_drift_commands, run_score_command, run_watch_command
from exporter.simulation.simulator import Simulator
from exporter.simulation.story import DEFAULT_SEED, PROFILES, ModelSpec, simulate_series

EXIT_OK = 0
EXIT_DRIFT = 1
EXIT_ERROR = 2
EXIT_NO_DATA = 3

# Longer than 30 days on purpose: with seed 42 the first crossing of 0.2 is on day 31.
DEFAULT_DAYS = 40
DEFAULT_MODELS = ("churn-classifier:drifting:42", "fraud-detector:healthy:7")


def _model(text: str) -> ModelSpec:
    try:
        return ModelSpec.parse(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _add_series_source(parser: argparse.ArgumentParser, csv: bool) -> None:
    source = parser.add_mutually_exclusive_group() if csv else parser
    source.add_argument(
        "--days",
        type=positive_int,
        default=None,
        help=f"simulate this many days ending today (default {DEFAULT_DAYS}; "
        "with seed 42 day 31 is the first above 0.2)",
    )
    if csv:
        source.add_argument(
            "--csv", type=Path, metavar="FILE", help="read a timestamp,drift_score CSV instead"
        )
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default="drifting",
        help="simulated drift profile (default drifting, the design document's)",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default 42)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``drift-exporter``."""
    parser = argparse.ArgumentParser(
        prog="drift-exporter",
        description="Publish model drift scores for Prometheus, and inspect them.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--log.level",
        dest="log_level",
        choices=["debug", "info", "warning", "error"],
        default=None,
        help="log level (default info for simulate and watch, warning for the others)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _add_simulate(commands)
    _add_series_commands(commands)
    add_drift_commands(commands)
    add_batch_commands(commands)
    return parser


def _add_simulate(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """``drift-exporter simulate``: its flags."""
    simulate = commands.add_parser(
        "simulate", help="serve simulated drift scores on /metrics, one day every step"
    )
    simulate.add_argument(
        "--web.listen-address",
        dest="listen",
        default=DEFAULT_LISTEN,
        help=f"address to serve /metrics on (default {DEFAULT_LISTEN})",
    )
    simulate.add_argument(
        "--model",
        dest="models",
        action="append",
        type=_model,
        metavar="NAME[:PROFILE[:SEED]]",
        help="a model to simulate; repeat for several. PROFILE is "
        f"{' or '.join(sorted(PROFILES))} (default drifting), SEED defaults to 42. "
        f"Default: {' '.join(DEFAULT_MODELS)}",
    )
    simulate.add_argument(
        "--days", type=positive_int, default=45, help="length of the story in days (default 45)"
    )
    simulate.add_argument(
        "--start-day",
        type=int,
        default=0,
        help="day to start on (default 0; the drifting profile starts rising after day 20)",
    )
    simulate.add_argument(
        "--step-seconds",
        type=non_negative_float,
        default=2.0,
        help="seconds per simulated day (default 2); 0 jumps to the last day and holds",
    )


def _add_series_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """``series``, ``check`` and ``plot``: the commands that read a whole series."""
    series = commands.add_parser("series", help="print the simulated series")
    _add_series_source(series, csv=False)
    series.add_argument("--format", choices=["csv", "table"], default="table")

    check = commands.add_parser(
        "check",
        help="is the latest score above the threshold? exit 0 no, 1 yes, 3 no data, 2 error",
    )
    _add_series_source(check, csv=True)
    check.add_argument(
        "--threshold",
        type=finite_float,
        default=DEFAULT_THRESHOLD,
        help=f"default {DEFAULT_THRESHOLD}",
    )

    plot = commands.add_parser("plot", help="plot the series and the threshold to an image")
    _add_series_source(plot, csv=True)
    plot.add_argument(
        "--threshold",
        type=finite_float,
        default=DEFAULT_THRESHOLD,
        help=f"default {DEFAULT_THRESHOLD}",
    )
    plot.add_argument(
        "--out", type=Path, default=Path("drift.png"), help="image file (default drift.png)"
    )


def _series(args: argparse.Namespace) -> pd.DataFrame:
    if getattr(args, "csv", None) is not None:
        return read_scores_csv(args.csv)
    days = args.days if args.days is not None else DEFAULT_DAYS
    return simulate_series(days, args.seed, args.profile, end=pd.Timestamp.today().normalize())


def _cmd_simulate(args: argparse.Namespace) -> int:
    from exporter.simulation.server import run_simulation

    host, port = parse_listen_address(args.listen)
    specs = args.models or [ModelSpec.parse(text) for text in DEFAULT_MODELS]
    simulator = Simulator(specs, days=args.days, start_day=args.start_day)
    run_simulation(simulator, host, port, args.step_seconds)
    return EXIT_OK


def _cmd_series(args: argparse.Namespace) -> int:
    data = _series(args)
    if args.format == "csv":
        data.to_csv(sys.stdout, index=False, date_format="%Y-%m-%d", float_format="%.6f")
    else:
        shown = data.assign(
            timestamp=data["timestamp"].dt.strftime("%Y-%m-%d"),
            drift_score=data["drift_score"].map("{:.4f}".format),
        )
        print(shown.to_string(index=False))
    return EXIT_OK


def _cmd_check(args: argparse.Namespace) -> int:
    data = _series(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EmptyDataWarning)
        triggered, score = check_drift_and_trigger(data, args.threshold)
    if score is None:
        message = caught[0].message if caught else "no monitoring data"
        print(f"warning: {message}", file=sys.stderr)
        return EXIT_NO_DATA
    when = data["timestamp"].max()
    if triggered:
        print(
            f"{when:%Y-%m-%d}: drift score {score:.4f} > threshold {args.threshold:g}: "
            "retraining should be triggered"
        )
        return EXIT_DRIFT
    print(f"{when:%Y-%m-%d}: drift score {score:.4f} <= threshold {args.threshold:g}: ok")
    return EXIT_OK


def _cmd_plot(args: argparse.Namespace) -> int:
    from exporter.plot import plot_series

    data = _series(args)
    if data.empty:
        raise ValueError("no data to plot")
    source = (
        args.csv.name if args.csv is not None else f"simulated, {args.profile}, seed {args.seed}"
    )
    crossing = plot_series(data, args.threshold, args.out, f"Drift score over time ({source})")
    if crossing is None:
        print(f"wrote {args.out}; the score never exceeds {args.threshold:g}")
    else:
        when = data["timestamp"].iloc[crossing]
        print(
            f"wrote {args.out}; first above {args.threshold:g} on {when:%Y-%m-%d} (row {crossing})"
        )
    return EXIT_OK


_COMMANDS = {
    "simulate": _cmd_simulate,
    "series": _cmd_series,
    "check": _cmd_check,
    "plot": _cmd_plot,
    "watch": run_watch_command,
    "score": run_score_command,
    "fit": run_fit_command,
    "spark-score": run_spark_score_command,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``drift-exporter``; returns the exit status."""
    args = build_parser().parse_args(argv)
    level = args.log_level or ("info" if args.command in ("simulate", "watch") else "warning")
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return _COMMANDS[args.command](args)
    except BrokenPipeError:
        return EXIT_OK
    except (ValueError, RuntimeError, OSError) as err:
        print(f"drift-exporter: error: {err}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())

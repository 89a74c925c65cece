"""``drift-demo`` (what ``make demo`` runs): the whole loop, a live timeline, a summary.

Exit status 0 when the loop closed (one retraining for the drifting model, none for the healthy
one, the resolution recorded); 1 otherwise, with the reason. Every process it started is stopped
before it exits, whatever happens.
"""

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from demo.harness.loop import DemoResult, Stack

NEEDS_CHECKOUT = (
    "drift-demo runs the whole loop from a source checkout (it starts the shipped configs in "
    "prometheus/): git clone the repository and run `make demo` there"
)


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    # SIGTERM as Ctrl-C: unwinds through the context managers that stop the processes.
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _wait_for_ctrl_c(stack: "Stack", _result: "DemoResult") -> None:
    print("\nEverything keeps running; press Ctrl-C to stop it.", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("stopping")


def _checkout() -> Path | None:
    """The checkout this module runs from, or None when it was installed from a wheel."""
    repo = Path(__file__).resolve().parents[1]
    harness = repo / "demo" / "harness" / "loop.py"
    return repo if harness.is_file() and (repo / "prometheus").is_dir() else None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``drift-demo``; returns the exit status."""
    if _checkout() is None:
        print(f"drift-demo: {NEEDS_CHECKOUT}", file=sys.stderr)
        return 2
    from demo.harness.loop import DemoSettings, run_demo
    from demo.harness.processes import require_binary

    defaults = DemoSettings()
    parser = argparse.ArgumentParser(prog="drift-demo", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--step-seconds",
        type=float,
        default=defaults.step_seconds,
        help=f"seconds per simulated day (default {defaults.step_seconds:g})",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=defaults.timeout,
        help=f"give up after this many seconds (default {defaults.timeout:g})",
    )
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="leave everything running after the summary, until Ctrl-C",
    )
    args = parser.parse_args(argv)
    for binary in ("prometheus", "prometheus-alertmanager"):
        try:
            require_binary(binary)
        except FileNotFoundError as err:
            print(f"drift-demo: {err}", file=sys.stderr)
            return 1
    signal.signal(signal.SIGTERM, _interrupt)
    settings = DemoSettings(step_seconds=args.step_seconds, timeout=args.timeout)
    try:
        result = run_demo(settings, on_closed=_wait_for_ctrl_c if args.keep_running else None)
    except KeyboardInterrupt:
        print("\ndrift-demo: interrupted; every process was stopped", file=sys.stderr)
        return 130
    except (OSError, TimeoutError, RuntimeError) as err:
        print(f"drift-demo: could not start the loop: {err}", file=sys.stderr)
        return 1
    return 0 if result.closed else 1


if __name__ == "__main__":
    sys.exit(main())

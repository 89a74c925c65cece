"""Start the whole loop on loopback ports and watch it close.

exporter (two models) -> Prometheus (shipped config and rules) -> Alertmanager (shipped config)
-> bridge (SQLite, the command target) -> the example retraining job -> exporter.
"""

import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

from demo.harness.observe import Observer, Snapshot
from demo.harness.processes import Process, free_port
from demo.harness.report import Timeline
from demo.harness.stack import (
    alertmanager_process,
    bridge_process,
    exporter_process,
    prometheus_process,
    render_alertmanager,
    render_prometheus,
    render_rules,
)

DEMO_BRIDGE_CONFIG = Path(__file__).parents[1] / "bridge.yml"


@dataclass(frozen=True)
class DemoSettings:
    """The demo's pace. The defaults play the story in well under two minutes."""

    step_seconds: float = 2.0
    # Day 24: the drifting model is already rising; seed 42 first crosses 0.2 on day 31.
    start_day: int = 24
    days: int = 45
    # Overrides of the shipped timers (prometheus.yml, drift.rules.yml, alertmanager.yml).
    interval: str = "1s"
    alert_for: str = "4s"
    group_wait: str = "2s"
    group_interval: str = "4s"
    training_seconds: float = 3.0
    timeout: float = 150.0
    drifting: str = "churn-classifier"
    healthy: str = "fraud-detector"


@dataclass
class Stack:
    """The running components."""

    work_dir: Path
    urls: dict[str, str]
    token: str
    processes: list[Process] = field(default_factory=list)

    def dead(self) -> Process | None:
        """A component that exited, if any."""
        return next((p for p in self.processes if not p.running()), None)


@dataclass
class DemoResult:
    """How the demo ended."""

    closed: bool
    reason: str
    milestones: dict[str, float]
    last: Snapshot | None
    trail: dict[str, Any] | None
    work_dir: Path
    processes: list[Process]


def _bridge_config(settings: DemoSettings, work: Path, port: int, exporter: str) -> Path:
    config = yaml.safe_load(DEMO_BRIDGE_CONFIG.read_text())
    config["listen_address"] = f"127.0.0.1:{port}"
    config["store"]["path"] = str(work / "bridge.db")
    config["auth"]["token_file"] = str(work / "alertmanager.token")
    # The job runs with this interpreter, which has the project installed.
    config["targets"]["retrain-job"]["command"] = [
        sys.executable,
        "-m",
        "demo.retrain_job",
        "--exporter-url",
        exporter,
        "--training-seconds",
        str(settings.training_seconds),
    ]
    config["dispatch"] = {"poll_interval": "200ms"}
    path = work / "bridge.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@contextmanager
def running_stack(settings: DemoSettings, work: Path) -> Iterator[Stack]:
    """Start every component on free loopback ports; stop them all when the block ends."""
    ports = {name: free_port() for name in ("exporter", "prometheus", "alertmanager", "bridge")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    token = secrets.token_hex(16)
    token_file = work / "alertmanager.token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    bridge_config = _bridge_config(settings, work, ports["bridge"], urls["exporter"])
    am_config = render_alertmanager(
        work, f"{urls['bridge']}/alerts", token_file, settings.group_wait, settings.group_interval
    )
    prom_config = render_prometheus(
        work,
        {
            "drift-exporter": f"127.0.0.1:{ports['exporter']}",
            "drift-bridge": f"127.0.0.1:{ports['bridge']}",
        },
        [f"127.0.0.1:{ports['alertmanager']}"],
        render_rules(work, settings.alert_for),
        settings.interval,
    )
    stack = Stack(work, urls, token)
    with ExitStack() as stop:
        for process, ready in (
            (bridge_process(bridge_config, work), f"{urls['bridge']}/readyz"),
            (
                alertmanager_process(am_config, work, ports["alertmanager"]),
                f"{urls['alertmanager']}/-/ready",
            ),
            (
                prometheus_process(prom_config, work, ports["prometheus"]),
                f"{urls['prometheus']}/-/ready",
            ),
        ):
            stack.processes.append(stop.enter_context(process))
            process.wait_http(ready)
        # The exporter last, so that the story starts when everything watches it.
        exporter = exporter_process(
            work,
            ports["exporter"],
            f"--days={settings.days}",
            f"--start-day={settings.start_day}",
            f"--step-seconds={settings.step_seconds}",
            models=(f"{settings.drifting}:drifting:42", f"{settings.healthy}:healthy:7"),
        )
        stack.processes.append(stop.enter_context(exporter))
        exporter.wait_http(f"{urls['exporter']}/-/healthy")
        yield stack


def watch(
    stack: Stack, settings: DemoSettings, out: TextIO, clock: Callable[[], float] = time.monotonic
) -> DemoResult:
    """Follow the loop until it closes (or the timeout), printing a live timeline."""
    observer = Observer(
        stack.urls["exporter"], stack.urls["prometheus"], stack.urls["bridge"], stack.token
    )
    started = clock()
    timeline = Timeline(out, settings.drifting, settings.healthy)
    threshold: float | None = None
    last: Snapshot | None = None
    trail: dict[str, Any] | None = None
    while clock() - started < settings.timeout:
        elapsed = clock() - started
        dead = stack.dead()
        if dead is not None:
            return DemoResult(
                False,
                f"{dead.name} exited:\n{dead.logs()[-1500:]}",
                timeline.milestones,
                last,
                trail,
                stack.work_dir,
                stack.processes,
            )
        if threshold is None:
            threshold = observer.threshold()
            if threshold is not None:
                timeline.threshold = threshold
        last = observer.snapshot()
        dispatches = last.dispatches_for(settings.drifting)
        if dispatches and dispatches[0]["episode_state"] == "resolved":
            trail = observer.trail(dispatches[0]["id"])
        timeline.update(elapsed, last, trail)
        if "resolution recorded" in timeline.milestones and trail is not None:
            return DemoResult(
                True,
                "the loop closed",
                timeline.milestones,
                last,
                trail,
                stack.work_dir,
                stack.processes,
            )
        time.sleep(0.5)
    missing = timeline.next_milestone()
    return DemoResult(
        False,
        f"timed out after {settings.timeout:.0f}s waiting for: {missing} "
        f"(logs in {stack.work_dir})",
        timeline.milestones,
        last,
        trail,
        stack.work_dir,
        stack.processes,
    )


def verdict(result: DemoResult, settings: DemoSettings) -> DemoResult:
    """Check what the loop must have done: one retraining for the drifting model, none else."""
    if not result.closed or result.last is None:
        return result
    drifting = result.last.dispatches_for(settings.drifting)
    healthy = result.last.dispatches_for(settings.healthy)
    problems = []
    if len(drifting) != 1:
        problems.append(f"{len(drifting)} dispatches for {settings.drifting}, expected exactly 1")
    elif drifting[0]["state"] != "succeeded":
        problems.append(f"the dispatch for {settings.drifting} is {drifting[0]['state']}")
    if healthy:
        problems.append(f"{len(healthy)} dispatch(es) for the healthy {settings.healthy}")
    if result.trail is None or result.trail["episode"]["state"] != "resolved":
        problems.append("the resolution was not recorded")
    if problems:
        result.closed = False
        result.reason = "; ".join(problems)
    return result


def run_demo(
    settings: DemoSettings,
    out: TextIO = sys.stdout,
    on_closed: Callable[[Stack, DemoResult], None] | None = None,
    work_dir: Path | None = None,
) -> DemoResult:
    """Run the loop, print its timeline and summary; every process is stopped on return.

    ``on_closed`` runs while everything is still up (the tests query Prometheus there; the
    command line waits for Ctrl-C when asked to keep running).
    """
    work = work_dir or Path(tempfile.mkdtemp(prefix="drift-demo-"))
    with running_stack(settings, work) as stack:
        Timeline.header(out, stack.urls, work)
        result = verdict(watch(stack, settings, out), settings)
        Timeline.summary(
            out,
            result.closed,
            result.reason,
            result.milestones,
            result.last,
            result.trail,
            settings.drifting,
            settings.healthy,
            stack.urls,
            work,
        )
        if on_closed is not None:
            on_closed(stack, result)
    return result

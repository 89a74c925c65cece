"""Benchmark: 1,000 GitHub Actions runs followed at once to their result.

The bridge runs as in production (``drift-bridge serve``, gunicorn, SQLite) with a ``github``
target pointed at the fake GitHub of the tests (tests/support/fakes/github.py), in this process.
1,000 alerts (1,000 models) each start a workflow run that goes in_progress after 5 s and stays
there for the measurement window, then completes.

Measured:
- requests to GitHub per minute while following the 1,000 runs, split into counted ones (200)
  and conditional ones answered 304 (not counted against the primary limit), against the
  5,000 requests/hour of a token and the 900 requests/minute per endpoint of GitHub's secondary
  limit (which may count 304s: GitHub does not say);
- the requests counted for the whole life of the runs (dispatch, looks, completion);
- the bridge's CPU (all its processes) and memory (RSS) while following, as ratios to the same
  bridge idle over an equal window measured first in the same run (the baseline).

    .venv/bin/python bench/follow_runs.py [--runs 1000] [--poll-interval 30s] [--window 120]
"""

import argparse
import os
import sqlite3
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
from support import TOKEN, body, bridge, free_port, wait_ready, write_bridge_config

from common.durations import parse_duration
from tests.support.fakes.github import FakeGitHub
from tests.support.fakes.lifecycle import Lifecycle

_TICKS = os.sysconf("SC_CLK_TCK")


def notification(n: int) -> dict[str, Any]:
    """A firing alert for model m<n>, its own episode."""
    payload = body("firing-single-bearer")
    payload["alerts"][0]["fingerprint"] = f"bench{n:06d}"
    payload["alerts"][0]["labels"]["model"] = f"m{n}"
    return payload


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants (gunicorn's master and workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of ``pids`` so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / _TICKS


def rss_mb(pids: list[int]) -> float:
    """Resident memory of ``pids`` in MB."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def measure(pids: list[int], github: FakeGitHub, seconds: float) -> dict[str, float]:
    """CPU, peak RSS and GitHub requests over ``seconds``."""
    cpu, counted, free = cpu_seconds(pids), github.counted, github.not_modified
    looks = sum(1 for r in github.received if "/actions/runs/" in r.path)
    peak = 0.0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        peak = max(peak, rss_mb(pids))
        time.sleep(1)
    return {
        "cpu": (cpu_seconds(pids) - cpu) / seconds,
        "rss": peak,
        "counted": (github.counted - counted) * 60 / seconds,
        "not_modified": (github.not_modified - free) * 60 / seconds,
        "looks": (sum(1 for r in github.received if "/actions/runs/" in r.path) - looks)
        * 60
        / seconds,
    }


def seen_running(database: Path) -> int:
    """Runs the bridge has seen in progress, read from its SQLite file."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM runs WHERE state = 'running'").fetchone()[0])


def running(port: int) -> float:
    """drift_bridge_retrainings_running, summed, from /metrics."""
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("drift_bridge_retrainings_running{")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--poll-interval", default="30s")
    parser.add_argument("--window", type=float, default=120.0)
    args = parser.parse_args()
    interval = parse_duration(args.poll_interval)
    with tempfile.TemporaryDirectory() as tmp, FakeGitHub(token="bench-gh") as github:
        work = Path(tmp)
        (work / "github.token").write_text("bench-gh")
        github.add_workflow("acme", "models", "retrain.yml", run_name="retrain {dispatch_id}")
        # In progress after 5 s, for as long as the benchmark needs (finished by hand after).
        github.lifecycle = Lifecycle(start_after=5)
        port = free_port()
        config = write_bridge_config(
            work,
            port,
            {
                "gh": {
                    "type": "github",
                    "api_url": github.url,
                    "owner": "acme",
                    "repo": "models",
                    "workflow": "retrain.yml",
                    "ref": "main",
                    "token_file": str(work / "github.token"),
                }
            },
            {
                "name": "retrain",
                "matchers": ['alertname="ModelDriftHigh"'],
                "target": "gh",
                "parameters": {"model": "{{ labels.model }}"},
                "cooldown": "0s",
            },
            follow={"poll_interval": args.poll_interval, "concurrency": 8},
            dispatch={"concurrency": 8},
        )
        with bridge(config, work) as process:
            wait_ready(process, f"http://127.0.0.1:{port}/readyz")
            pids = tree(process.pid)
            idle = measure(pids, github, args.window)

            started = time.monotonic()
            headers = {"Authorization": f"Bearer {TOKEN}"}
            url = f"http://127.0.0.1:{port}/alerts"
            with ThreadPoolExecutor(8) as pool:
                statuses = list(
                    pool.map(
                        lambda n: (
                            requests.post(
                                url, json=notification(n), headers=headers, timeout=30
                            ).status_code
                        ),
                        range(args.runs),
                    )
                )
            assert statuses == [200] * args.runs, "some alerts were refused"
            deadline = time.monotonic() + 600
            while running(port) < args.runs or len(github.runs) < args.runs:
                assert time.monotonic() < deadline, "the runs were not all dispatched in 10 min"
                time.sleep(1)
            dispatched = time.monotonic() - started
            # Steady state: the bridge has seen every run in progress; from then on nothing
            # changes until they complete (read from its store, read-only).
            while seen_running(work / "bridge.db") < args.runs:
                assert time.monotonic() < deadline, "the runs were not all seen in progress"
                time.sleep(1)
            steady = time.monotonic() - started
            time.sleep(5)
            busy = measure(pids, github, args.window)

            for run in list(github.runs):
                github.finish_run(run.id, "success")
            finishing = time.monotonic()
            while running(port) > 0:
                assert time.monotonic() - finishing < 600, "runs not all seen finished in 10 min"
                time.sleep(1)
            finished = time.monotonic() - finishing
            counted_total = github.counted

    print(
        f"{args.runs} GitHub runs followed at once, follow.poll_interval {args.poll_interval}, "
        f"window {args.window:.0f}s (machine shared with other work: figures are indicative)"
    )
    print(
        f"  {args.runs} alerts -> {args.runs} runs dispatched and followed in {dispatched:.0f}s,"
        f" all seen in progress after {steady:.0f}s"
    )
    print(
        f"  looks at runs:    {busy['looks']:7.0f}/min  (expected {args.runs * 60 / interval:.0f}"
        f"/min at this interval)"
    )
    print(
        f"  counted (200):    {busy['counted']:7.0f}/min = {busy['counted'] * 60:7.0f}/hour "
        f"(primary limit 5,000/hour: {busy['counted'] * 60 / 5000:.2f}x)"
    )
    print(
        f"  304 (not counted):{busy['not_modified']:7.0f}/min  (secondary limit 900/min/endpoint)"
    )
    print(
        f"  counted for the runs' whole life: {counted_total} requests = "
        f"{counted_total / args.runs:.1f} per run; all seen finished {finished:.0f}s after "
        "they completed"
    )
    print(
        f"  bridge CPU:  {busy['cpu'] * 100:5.1f}% of a core  (idle {idle['cpu'] * 100:4.1f}%, "
        f"ratio {busy['cpu'] / max(idle['cpu'], 1e-3):.1f}x)"
    )
    print(
        f"  bridge RSS:  {busy['rss']:5.0f} MB  (idle {idle['rss']:.0f} MB, "
        f"ratio {busy['rss'] / idle['rss']:.2f}x; all gunicorn processes)"
    )


if __name__ == "__main__":
    main()

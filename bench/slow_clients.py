"""Benchmark: a well-behaved Alertmanager POST while 500 loopback sockets are slow or idle.

The bridge runs as shipped (``drift-bridge serve``: 2 processes x 8 threads, dry run so nothing
is dispatched) once with each server, ``waitress`` (the default) and ``gthread`` (the server
before issue 9), and for each:

1. baseline: webhooks for new episodes, one every 100 ms, each on a new connection;
2. attack: the same, while 500 sockets stay connected: a third idle (connected, sending
   nothing), a third trickling request headers and a third trickling a body (complete headers
   announcing 10,000 bytes), one byte per socket per second; a socket the server closes is
   opened again at once.

Latency is measured from each request's scheduled time (no coordinated omission); a request
with no answer within 30 s counts as a failure and as 30 s. Goal: p99 < 100 ms under attack.

    .venv/bin/python bench/slow_clients.py [--seconds 20] [--sockets 500] \\
        [--servers waitress,gthread]
"""

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

import requests
from support import TOKEN, body, bridge, free_port, wait_ready, write_bridge_config

from tests.support.slow_clients import Attack

TIMEOUT = 30.0


def well_behaved(url: str, seconds: float, prefix: str) -> tuple[list[float], int]:
    """Latencies (ms) of one webhook every 100 ms on a new connection; and the failures.

    Open loop: each request has its own thread and is sent at its time, whether the ones
    before it were answered or not.
    """
    template = body("firing-single-bearer")
    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()

    def send(index: int, scheduled: float) -> None:
        payload = json.loads(json.dumps(template))
        payload["alerts"][0]["fingerprint"] = f"{prefix}-{index}"
        try:
            response = requests.post(
                url,
                json=payload,
                timeout=TIMEOUT,
                headers={"Authorization": f"Bearer {TOKEN}", "Connection": "close"},
            )
            ok = response.status_code == 200
        except requests.RequestException:
            ok = False
        elapsed = (time.perf_counter() - scheduled) * 1000
        with lock:
            if not ok:
                failures.append(index)
                elapsed = max(elapsed, TIMEOUT * 1000)
            latencies.append(elapsed)

    threads = []
    start = time.perf_counter()
    for index in range(int(seconds * 10)):
        scheduled = start + index * 0.1
        delay = scheduled - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        thread = threading.Thread(target=send, args=(index, scheduled), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    return latencies, len(failures)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1)]


def summary(latencies: list[float], failures: int) -> dict[str, float]:
    return {
        "p50": statistics.median(latencies),
        "p99": percentile(latencies, 99),
        "max": max(latencies),
        "failures": failures,
        "requests": len(latencies),
    }


def run(server: str, seconds: float, count: int) -> dict[str, dict[str, float]]:
    """Baseline and attack figures for one server."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        port = free_port()
        extra: dict[str, object] = {"dry_run": True}
        if server != "default":
            extra["worker_class"] = server
        config = write_bridge_config(
            work,
            port,
            {"hook": {"type": "webhook", "url": "http://127.0.0.1:9/hook"}},
            {"name": "retrain", "target": "hook", "cooldown": "0s"},
            **extra,
        )
        url = f"http://127.0.0.1:{port}/alerts"
        with bridge(config, work) as process:
            wait_ready(process, f"http://127.0.0.1:{port}/readyz")
            well_behaved(url, 2, f"{server}-warmup")
            results = {"baseline": summary(*well_behaved(url, seconds, f"{server}-base"))}
            with Attack(port, count) as attack:
                time.sleep(3)  # the sockets connect and start trickling
                latencies, failures = well_behaved(url, seconds, f"{server}-attack")
                results["attack"] = summary(latencies, failures)
                results["attack"]["open_sockets"] = attack.open
                results["attack"]["reconnects"] = attack.reconnects
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--sockets", type=int, default=500)
    parser.add_argument("--servers", default="waitress,gthread")
    args = parser.parse_args()
    print(f"{args.sockets} slow sockets, one webhook per 100 ms for {args.seconds:g}s per phase")
    print(f"{'server':<10} {'phase':<9} {'p50 ms':>8} {'p99 ms':>9} {'max ms':>9} {'failed':>7}")
    for server in args.servers.split(","):
        results = run(server, args.seconds, args.sockets)
        for phase, figures in results.items():
            print(
                f"{server:<10} {phase:<9} {figures['p50']:>8.1f} {figures['p99']:>9.1f} "
                f"{figures['max']:>9.1f} {int(figures['failures']):>3}/{int(figures['requests'])}"
                + (
                    f"  (open sockets {int(figures['open_sockets'])}, "
                    f"reconnects {int(figures['reconnects'])})"
                    if "open_sockets" in figures
                    else ""
                )
            )
        base, attack = results["baseline"]["p99"], results["attack"]["p99"]
        print(f"{server:<10} p99 under attack / baseline: {attack / base:.1f}x")


if __name__ == "__main__":
    main()

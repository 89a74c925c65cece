"""Benchmark: POST /alerts on the production server against a bare Flask app on the same server.

Both run on gunicorn with the bridge's defaults (2 worker processes x 8 threads). The bridge
records every notification and decision durably (SQLite, WAL, synchronous=FULL) before its 2xx;
the bare app only answers 200. Dispatching is off (dry run) so that only intake is measured.

1. Throughput with wrk (2 threads, 16 connections): resends of one episode (duplicates) and a
   new episode on every request.
2. Latency at a fixed 200 requests/s (open loop, new episodes), measured from each request's
   scheduled time, so a stall is not hidden (no coordinated omission).

    .venv/bin/python bench/bridge_intake.py [--seconds 10]
"""

import argparse
import json
import queue
import shutil
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import requests
from support import (
    TOKEN,
    bare,
    body,
    bridge,
    free_port,
    wait_ready,
    write_bridge_config,
    wrk,
)

from tests.support.postgres import PostgresCluster


def fixed_rate(url: str, rate: float, seconds: float, prefix: str) -> list[float]:
    """Latencies (ms) of requests sent at ``rate``/s, each a new episode."""
    total = int(rate * seconds)
    jobs: queue.Queue[tuple[int, float] | None] = queue.Queue()
    latencies: list[float] = []
    failures: list[int] = []
    lock = threading.Lock()
    template = body("firing-single-bearer")

    def worker() -> None:
        session = requests.Session()
        while (job := jobs.get()) is not None:
            index, scheduled = job
            template_copy = json.loads(json.dumps(template))
            template_copy["alerts"][0]["fingerprint"] = f"{prefix}-{index}"
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            response = session.post(
                url, json=template_copy, timeout=10, headers={"Authorization": f"Bearer {TOKEN}"}
            )
            elapsed = (time.perf_counter() - scheduled) * 1000
            with lock:
                latencies.append(elapsed)
                if response.status_code != 200:
                    failures.append(response.status_code)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(32)]
    for thread in threads:
        thread.start()
    start = time.perf_counter() + 0.5
    for index in range(total):
        jobs.put((index, start + index / rate))
    for _ in threads:
        jobs.put(None)
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed: {sorted(set(failures))}")
    return latencies


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def start_bridges(
    stack: ExitStack, work: Path, args: argparse.Namespace, cluster: PostgresCluster | None
) -> list[str]:
    """The bridge replicas (one for SQLite); their /alerts URLs."""
    store: dict[str, str] = {"path": str(work / "bridge.db")}
    if cluster is not None:
        settings = cluster.database()
        store = {"url": settings.url, "password_file": str(cluster.password_file)}
    urls = []
    for n in range(args.replicas):
        replica = work / f"replica-{n}"
        replica.mkdir()
        port = free_port()
        config = write_bridge_config(
            replica,
            port,
            {"hook": {"type": "webhook", "url": "http://127.0.0.1:9/never"}},
            {
                "name": "retrain",
                "matchers": ['alertname="ModelDriftHigh"'],
                "target": "hook",
                "parameters": {"MODEL": "{{ labels.model }}"},
                "cooldown": "0s",
            },
            dry_run=True,
            workers=max(1, args.workers // args.replicas),
            threads=args.threads,
            worker_class=args.worker_class,
            store=store,
        )
        process = stack.enter_context(bridge(config, replica))
        wait_ready(process, f"http://127.0.0.1:{port}/readyz")
        urls.append(f"http://127.0.0.1:{port}/alerts")
    return urls


def wrk_all(urls: list[str], work: Path, unique: bool, seconds: int) -> dict[str, float]:
    """wrk against every URL at once (16 connections in all); requests/s summed."""
    with ThreadPoolExecutor(len(urls)) as pool:
        runs = list(pool.map(lambda url: wrk(url, work, unique, seconds, 16 // len(urls)), urls))
    return {
        "rps": sum(r["rps"] for r in runs),
        "p50_ms": max(r["p50_ms"] for r in runs),
        "p99_ms": max(r["p99_ms"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--workers", type=int, default=2, help="server processes (both servers)")
    parser.add_argument("--threads", type=int, default=8, help="threads per process (both)")
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--replicas", type=int, default=1, help="bridges on one PostgreSQL (workers split)"
    )
    parser.add_argument(
        "--worker-class",
        default="waitress",
        choices=["waitress", "gthread"],
        help="the bridge's worker_class (the bare app always runs on gthread)",
    )
    args = parser.parse_args()
    if args.replicas > 1 and args.store != "postgres":
        parser.error("several replicas need --store postgres")
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        cluster = None
        if args.store == "postgres":
            # Its own top-level temporary directory: initdb runs as nobody when we are root.
            root = Path(tempfile.mkdtemp(prefix="bench-pg-"))
            stack.callback(shutil.rmtree, root, ignore_errors=True)
            cluster = PostgresCluster(root, durable=True)
            cluster.init()
            cluster.start()
            stack.callback(cluster.stop)
        bare_port = free_port()
        bridge_urls = start_bridges(stack, work, args, cluster)
        bare_proc = stack.enter_context(bare(bare_port, work, args.workers, args.threads))
        wait_ready(bare_proc, f"http://127.0.0.1:{bare_port}/alerts")
        bare_url = f"http://127.0.0.1:{bare_port}/alerts"
        store = (
            "SQLite" if cluster is None else f"PostgreSQL (fsync on), {args.replicas} replica(s)"
        )
        print(
            f"servers: gunicorn, {args.workers} process(es) x {args.threads} threads in all;"
            f" bridge store {store}, worker_class {args.worker_class}"
        )
        print(f"throughput: wrk -t2 -c16 -d{args.seconds}s (2 cores shared by wrk and server)")
        results = {}
        cases = (
            ("bare", [bare_url], False),
            ("bridge (resends)", bridge_urls, False),
            ("bridge (new episodes)", bridge_urls, True),
        )
        for label, urls, unique in cases:
            results[label] = figures = wrk_all(urls, work, unique, args.seconds)
            print(
                f"  {label:24} {figures['rps']:8.0f} req/s  p50 {figures['p50_ms']:6.2f} ms"
                f"  p99 {figures['p99_ms']:6.2f} ms  non-2xx {figures['errors']:.0f}"
            )
        bare_rps = results["bare"]["rps"]
        for label, figures in results.items():
            if label != "bare":
                print(f"  ratio {label} / bare: {figures['rps'] / bare_rps:.2f}x  (goal >= 0.5x)")

        print(f"latency at a fixed {args.rate:.0f} req/s for {args.seconds}s (new episodes):")
        for name, url in (("bare", bare_url), ("bridge", bridge_urls[0])):
            lat = fixed_rate(url, args.rate, args.seconds, f"rate-{name}")
            p99 = percentile(lat, 99)
            goal = "  (goal p99 < 20 ms)" if name == "bridge" else ""
            print(
                f"  {name:8} n={len(lat)}  p50 {statistics.median(lat):6.2f} ms  "
                f"p99 {p99:6.2f} ms  max {max(lat):6.2f} ms{goal}"
            )
        stats = requests.get(bridge_urls[0].replace("/alerts", "/metrics"), timeout=5).text
        for line in stats.splitlines():
            if line.startswith(
                (
                    'drift_bridge_notifications_total{outcome="accepted"}',
                    "drift_bridge_store_commit_batch",
                )
            ):
                print(f"bridge: {line}")


if __name__ == "__main__":
    main()

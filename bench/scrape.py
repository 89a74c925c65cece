"""Benchmark: one scrape of the exporter's /metrics with 1,000 models.

Compares, in the same run, against a bare prometheus-client registry holding the same 1,000
``drift_score`` gauges (the least any exporter of these numbers could do). Prints time per scrape
(rendering alone, and over HTTP) and memory, and the ratios.

    .venv/bin/python bench/scrape.py [--models 1000] [--repeat 200]
"""

import argparse
import gc
import statistics
import threading
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import requests
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest, make_wsgi_app

from exporter.http import serving
from exporter.simulation.app import create_app
from exporter.simulation.collector import SimulationCollector
from exporter.simulation.simulator import Simulator
from exporter.simulation.story import ModelSpec


def build_ours(models: int) -> tuple[CollectorRegistry, Simulator]:
    specs = [
        ModelSpec(f"model-{i:04d}", "drifting" if i % 2 else "healthy", i) for i in range(models)
    ]
    simulator = Simulator(specs, days=45, start_day=35)
    registry = CollectorRegistry()
    registry.register(SimulationCollector(simulator))
    return registry, simulator


def build_bare(simulator: Simulator, same_content: bool = False) -> CollectorRegistry:
    """Plain prometheus-client metrics set once: 1,000 gauges, or all that ours exposes."""
    registry = CollectorRegistry()
    score = Gauge("drift_score", "Data drift score.", ["model"], registry=registry)
    if same_content:
        since = Gauge("drift_days_since_reference", "Days.", ["model"], registry=registry)
        retrainings = Counter("drift_retrainings", "Retrainings.", ["model"], registry=registry)
        info = Gauge("drift_model_info", "Info.", ["model", "profile", "seed"], registry=registry)
        for name in (
            "drift_simulation_day",
            "drift_simulation_days",
            "drift_simulation_date_seconds",
        ):
            Gauge(name, "Simulation.", registry=registry).set(1)
    for reading in simulator.readings():
        score.labels(reading.model).set(reading.score)
        if same_content:
            since.labels(reading.model).set(reading.days_since_reference)
            retrainings.labels(reading.model).inc(0)
            info.labels(reading.model, reading.profile, str(reading.seed)).set(1)
    return registry


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def time_per_call(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median and p95 seconds per call."""
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def peak_bytes(fn: Callable[[], object]) -> int:
    """Peak memory allocated while ``fn`` runs (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def retained_bytes(build: Callable[[], object]) -> int:
    """Memory still allocated by what ``build`` returns."""
    gc.collect()
    tracemalloc.start()
    kept = build()
    gc.collect()
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del kept
    return current


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()

    ours, simulator = build_ours(args.models)
    registries = {
        "ours": ours,
        "bare": build_bare(simulator),
        "bare-same": build_bare(simulator, same_content=True),
    }
    print(
        f"models: {args.models}  (bare: {args.models} drift_score gauges; bare-same: plain "
        "prometheus-client metrics with the same series as ours)"
    )
    for name, registry in registries.items():
        text = generate_latest(registry)
        print(f"exposition {name:9}  {len(text):>9,} bytes  {text.count(b'#') // 2:>2} families")

    render = {
        name: time_per_call(partial(generate_latest, registry), args.repeat)
        for name, registry in registries.items()
    }
    for name, (median, p95) in render.items():
        print(f"render     {name:9}  median {median * 1e3:7.2f} ms  p95 {p95 * 1e3:7.2f} ms")

    http = {}
    with serving(create_app(simulator, ours), "127.0.0.1", 0) as server:
        session = requests.Session()
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        http["ours"] = time_per_call(partial(session.get, url), args.repeat // 2)[0]
        for name in ("bare", "bare-same"):
            bare_server = make_server(
                "127.0.0.1", 0, make_wsgi_app(registries[name]), handler_class=_QuietHandler
            )
            thread = threading.Thread(target=bare_server.serve_forever, daemon=True)
            thread.start()
            bare_url = f"http://127.0.0.1:{bare_server.server_port}/metrics"
            fetch = partial(session.get, bare_url)
            http[name] = time_per_call(fetch, args.repeat // 2)[0]
            bare_server.shutdown()
            bare_server.server_close()
    for name, median in http.items():
        print(f"http       {name:9}  median {median * 1e3:7.2f} ms")

    peak = {name: peak_bytes(partial(generate_latest, reg)) for name, reg in registries.items()}
    kept = {
        "ours": retained_bytes(lambda: build_ours(args.models)),
        "bare": retained_bytes(lambda: build_bare(simulator)),
        "bare-same": retained_bytes(lambda: build_bare(simulator, same_content=True)),
    }
    for name in registries:
        print(
            f"memory     {name:9}  scrape peak {peak[name] / 1024:7.0f} KiB  "
            f"retained {kept[name] / 1024:7.0f} KiB"
        )
    for base in ("bare", "bare-same"):
        print(
            f"ratio ours/{base:9}  render {render['ours'][0] / render[base][0]:.2f}x  "
            f"http {http['ours'] / http[base]:.2f}x  scrape peak {peak['ours'] / peak[base]:.2f}x  "
            f"retained {kept['ours'] / kept[base]:.2f}x"
        )


if __name__ == "__main__":
    main()

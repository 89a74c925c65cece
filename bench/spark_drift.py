"""Benchmark: the Spark job (local mode) next to single-machine ``score`` on the same Parquet data.

For each size (values = rows x features, 10 numeric features by default) it writes seeded
current data as Parquet files of 1M rows, fits and saves one reference (200k rows), then runs,
each as its own process as a user would, with all four methods:

- ``drift-exporter spark-score --master local[N]`` (N = the cores given to Spark);
- ``drift-exporter score`` (numpy, one thread; pyarrow may read with more),

and prints wall time, the job's own time (``score_seconds`` of the report: Spark's read and
count without the JVM start; ``score``'s counting after its read), values per second per core,
CPU seconds and peak memory of the whole process tree (JVM, Python workers), sampled from /proc
every 50 ms.
It also checks that both print the same drift_score. A tiny run first measures Spark's fixed
start-up cost, so the growth from size to size shows the per-value cost.

    .venv/bin/python bench/spark_drift.py [--sizes 1e7 3e7 1e8] [--cores 2] [--work DIR]
"""

import argparse
import itertools
import json
import os
import platform
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
DRIFT_EXPORTER = str(Path(sys.executable).parent / "drift-exporter")
FILE_ROWS = 1_000_000
METHODS = "psi,js,ks,wasserstein"
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Run:
    """One command's measurements."""

    wall: float
    cpu: float
    peak_rss: int
    report: dict[str, object]


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def _sample_tree(root: int, cpu_ticks: dict[int, int]) -> int:
    """The tree's resident bytes now; records each process's CPU ticks so far."""
    tree = _children()
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(tree.get(pid, []))
        try:
            with open(f"/proc/{pid}/statm") as statm:
                total += int(statm.read().split()[1]) * PAGE
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            cpu_ticks[pid] = int(fields[11]) + int(fields[12])  # utime + stime
        except OSError:
            pass
    return total


def measure(argv: list[str]) -> Run:
    """Run ``argv``; wall time, CPU time of the tree, peak resident memory of the tree."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    peak = 0
    done = threading.Event()
    cpu_ticks: dict[int, int] = {}

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _sample_tree(child.pid, cpu_ticks))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert child.stdout is not None
    out = child.stdout.read()
    # Sampled, not from wait4: the JVM is not always waited for by its Python parent.
    _, status, _ = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode not in (0, 1, 3):
        raise RuntimeError(f"{argv[1]} failed with {child.returncode}")
    cpu = sum(cpu_ticks.values()) / os.sysconf("SC_CLK_TCK")
    return Run(wall, cpu, peak, json.loads(out))


def write_current(directory: Path, rows: int, features: int, seed: int) -> None:
    """Seeded, mildly drifted numeric features as Parquet files of 1M rows."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index, start in enumerate(range(0, rows, FILE_ROWS)):
        n = min(FILE_ROWS, rows - start)
        table = pa.table({f"f{k}": rng.normal(0.05 * k, 1 + 0.01 * k, n) for k in range(features)})
        pq.write_table(table, directory / f"part-{index:05d}.parquet")


def fit(work: Path, features: int) -> Path:
    """The saved reference: 200k rows fitted by ``drift-exporter fit``."""
    rng = np.random.default_rng(1)
    data = pd.DataFrame({f"f{k}": rng.normal(0, 1, 200_000) for k in range(features)})
    data.to_parquet(work / "reference.parquet")
    saved = work / "reference.json"
    subprocess.run(
        [
            DRIFT_EXPORTER,
            "fit",
            "--reference",
            str(work / "reference.parquet"),
            "--out",
            str(saved),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e7, 3e7, 1e8])
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/drift-spark-bench"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    print(
        f"python {platform.python_version()}  cores {os.cpu_count()}  Spark local[{args.cores}]  "
        f"load average {os.getloadavg()[0]:.1f} at start"
    )
    saved = fit(args.work, args.features)
    common = ["--reference", str(saved), "--method", METHODS, "--format", "json"]
    spark = [DRIFT_EXPORTER, "spark-score", f"--master=local[{args.cores}]", *common]
    local = [DRIFT_EXPORTER, "score", "--progress=never", *common]

    tiny = args.work / "tiny"
    write_current(tiny, 2000, args.features, seed=3)
    start_up = measure([*spark, "--current", str(tiny)])
    print(
        f"spark start-up (2,000 rows): wall {start_up.wall:.1f}s  cpu {start_up.cpu:.1f}s  "
        f"peak {start_up.peak_rss >> 20} MiB"
    )

    measured: list[tuple[int, Run, Run]] = []
    for size in args.sizes:
        rows = int(size) // args.features
        values = rows * args.features
        data = args.work / f"current-{values:.0e}"
        if not data.exists():
            began = time.perf_counter()
            write_current(data, rows, args.features, seed=2)
            print(f"wrote {values:.0e} values in {time.perf_counter() - began:.0f}s")
        on_spark = measure([*spark, "--current", str(data)])
        single = measure([*local, "--current", str(data)])
        assert on_spark.report["drift_score"] == single.report["drift_score"], "scores differ"
        for name, run, cores in (("spark", on_spark, args.cores), ("score", single, 1)):
            inner = float(str(run.report["score_seconds"]))
            print(
                f"{values:.0e} values  {name:5}  wall {run.wall:7.1f}s  "
                f"scoring {inner:7.1f}s  cpu {run.cpu:7.1f}s  "
                f"{values / run.wall / cores / 1e6:6.2f} M values/s/core (wall)  "
                f"{values / run.cpu / 1e6:6.2f} M values/cpu-s  peak {run.peak_rss >> 20:6} MiB"
            )
        measured.append((values, on_spark, single))
        print(
            f"{values:.0e} values  ratio spark/score  wall {on_spark.wall / single.wall:.2f}x  "
            f"peak memory {on_spark.peak_rss / single.peak_rss:.2f}x  "
            f"drift_score {on_spark.report['drift_score']:.6f} (equal)"
        )
    _growth(measured, start_up)


def _growth(measured: list[tuple[int, Run, Run]], start_up: Run) -> None:
    """From one size to the next: how time and memory grow with the values (linear? flat?)."""
    for (small, spark_a, score_a), (large, spark_b, score_b) in itertools.pairwise(measured):
        for name, a, b in (("spark", spark_a, spark_b), ("score", score_a, score_b)):
            added = (large - small) / 1e6
            print(
                f"growth {small:.0e} -> {large:.0e} ({large / small:.1f}x values)  {name:5}  "
                f"wall {b.wall / a.wall:5.2f}x  cpu {b.cpu / a.cpu:5.2f}x  "
                f"peak memory {b.peak_rss / a.peak_rss:5.2f}x  "
                f"marginal {added / max(b.wall - a.wall, 1e-9):6.2f} M values/s wall, "
                f"{added / max(b.cpu - a.cpu, 1e-9):6.2f} M values/cpu-s"
            )
    print(f"spark fixed cost (start-up run): wall {start_up.wall:.1f}s, cpu {start_up.cpu:.1f}s")


if __name__ == "__main__":
    main()

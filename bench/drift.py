"""Benchmark: drift scoring throughput per method, fit time, peak memory; Evidently and scipy.

For 1M rows x 10 and x 100 numeric features (seeded normal data, the current one mildly
drifted) it prints, in one run:

- the reference's fit time, then each method's scoring time in values per second (one thread,
  so per core), and ``np.histogram`` with explicit edges on the same columns as the baseline;
- the peak memory that scoring allocates (tracemalloc) beside the current window's size;
- Evidently 0.7's PSI per column on the same data (in its own virtualenv,
  ``bench/.venv-evidently``, made here when missing), its time, and its scores next to ours
  computed with Evidently's bins, to show they agree;
- scipy's ``ks_2samp`` statistic, ``wasserstein_distance`` and ``jensenshannon`` on the first
  columns, side by side with ours.

    .venv/bin/python bench/drift.py [--rows 1000000] [--features 10 100] [--repeat 3]
                                    [--no-evidently] [--no-report] [--scipy-columns 10]
"""

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp, wasserstein_distance

from exporter.drift import DriftSettings, fit_reference, score_frame
from exporter.drift.reference import NumericReference, Reference
from exporter.drift.settings import METHODS
from exporter.drift.stats import bin_counts

BENCH = Path(__file__).resolve().parent
EVIDENTLY_VENV = BENCH / ".venv-evidently"
EVIDENTLY_PYTHON = EVIDENTLY_VENV / "bin" / "python"
EVIDENTLY_REQUIREMENTS = ["evidently==0.7.*", "pandas<3"]
MiB = 1024 * 1024


def make_data(rows: int, features: int, seed: int = 42) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and current frames, one contiguous array per column (as Parquet reads them)."""
    rng = np.random.default_rng(seed)
    means = rng.uniform(-100, 100, features)
    scales = rng.uniform(0.5, 20, features)
    reference = {f"f{i:03d}": rng.normal(means[i], scales[i], rows) for i in range(features)}
    # Every third feature drifts by a tenth of its spread; the others only widen by 5%.
    current = {
        f"f{i:03d}": rng.normal(means[i] + 0.1 * scales[i] * (i % 3 == 0), scales[i] * 1.05, rows)
        for i in range(features)
    }
    return pd.DataFrame(reference), pd.DataFrame(current)


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def peak_bytes(fn: Callable[[], object]) -> int:
    """Peak memory allocated while ``fn`` runs (tracemalloc sees numpy's buffers)."""
    gc.collect()
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def rate(values: int, seconds: float) -> str:
    return f"{values / seconds / 1e6:8.1f} M values/s"


def ensure_evidently() -> bool:
    """Make bench/.venv-evidently with Evidently 0.7 unless it works already; False on failure."""
    how = f"python3 -m venv {EVIDENTLY_VENV} && {EVIDENTLY_VENV}/bin/pip install " + " ".join(
        f"'{requirement}'" for requirement in EVIDENTLY_REQUIREMENTS
    )
    check = [str(EVIDENTLY_PYTHON), "-c", "import evidently"]
    if EVIDENTLY_PYTHON.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return True
    print(f"making {EVIDENTLY_VENV} (Evidently 0.7 needs pandas<3), as: {how}", flush=True)
    try:
        subprocess.run(["python3", "-m", "venv", str(EVIDENTLY_VENV)], check=True)
        pip = [str(EVIDENTLY_VENV / "bin" / "pip"), "install", "--quiet"]
        subprocess.run([*pip, *EVIDENTLY_REQUIREMENTS], check=True)
    except (OSError, subprocess.CalledProcessError) as err:
        print(f"could not make the Evidently virtualenv ({err}); make it by hand: {how}")
        return False
    return True


def run_evidently(
    reference: pd.DataFrame, current: pd.DataFrame, repeat: int, report: bool
) -> dict[str, Any]:
    """Evidently's PSI per column on the same data, in its own interpreter."""
    with tempfile.TemporaryDirectory(prefix="drift-bench-") as tmp:
        paths = []
        for name, frame in (("reference", reference), ("current", current)):
            path = Path(tmp) / f"{name}.npy"
            np.save(path, frame.to_numpy().T)
            paths.append(str(path))
        argv = [str(EVIDENTLY_PYTHON), str(BENCH / "evidently_psi.py"), *paths]
        argv += ["--repeat", str(repeat)] + (["--report"] if report else [])
        done = subprocess.run(argv, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def evidently_psi_same_bins(
    reference: np.ndarray, current: np.ndarray, edges: list[float]
) -> float:
    """Our binning and PSI with Evidently's edges and its zero-filling rule."""
    interior = np.asarray(edges[1:-1])
    shares = []
    for values in (reference, current):
        counts, _ = bin_counts(values, interior)
        share = counts / len(values)
        # Evidently fills empty bins with min(nonzero)/1e6 when that minimum is <= 1e-4.
        smallest = share[share > 0].min()
        share[share == 0] = smallest / 1e6 if smallest <= 0.0001 else 0.0001
        shares.append(share)
    p, q = shares
    return float(np.sum((p - q) * np.log(p / q)))


def bench_ours(
    reference: pd.DataFrame, current: pd.DataFrame, repeat: int
) -> tuple[dict[str, float], Reference]:
    values = current.size
    window_bytes = int(current.memory_usage(index=False).sum())
    print(f"current window: {window_bytes / MiB:.1f} MiB; reference the same size")
    fitted: dict[str, Reference] = {}
    figures: dict[str, float] = {}
    for label, methods in (("psi/js", ("psi", "js")), ("all", METHODS)):
        settings = DriftSettings(methods=methods)

        def fit(settings: DriftSettings = settings, label: str = label) -> None:
            fitted[label] = fit_reference(reference, settings)

        seconds = median_seconds(fit, repeat)
        what = "edges, counts" if label == "psi/js" else "+ sorted values, prefix sums"
        print(f"fit    {label:<12} {seconds:8.3f} s  ({what})")
    for method in (*METHODS, "all four"):
        chosen: tuple[str, ...] = METHODS if method == "all four" else (method,)
        ref = fitted["psi/js" if method in ("psi", "js") else "all"]
        seconds = median_seconds(
            partial(score_frame, ref, current, DriftSettings(methods=chosen)), repeat
        )
        figures[method] = values / seconds
        print(f"score  {method:<12} {seconds:8.3f} s  {rate(values, seconds)}")

    psi_ref = fitted["psi/js"]

    def histogram() -> None:
        for name, column in psi_ref.columns.items():
            assert isinstance(column, NumericReference)
            values_ = current[name].to_numpy()
            edges = np.concatenate(([values_.min()], column.edges, [values_.max()]))
            np.histogram(values_, bins=edges)

    seconds = median_seconds(histogram, repeat)
    figures["histogram"] = values / seconds
    print(f"np.histogram, explicit edges  {seconds:8.3f} s  {rate(values, seconds)}  (baseline)")

    runs: list[tuple[str, Reference, tuple[str, ...]]] = [
        ("psi", psi_ref, ("psi",)),
        ("all four", fitted["all"], METHODS),
    ]
    for method, ref, wanted in runs:
        peak = peak_bytes(partial(score_frame, ref, current, DriftSettings(methods=wanted)))
        figures[f"peak {method}"] = (window_bytes + peak) / window_bytes
        print(
            f"memory {method:<12} peak while scoring {peak / MiB:7.1f} MiB on top of the "
            f"window: {figures[f'peak {method}']:.2f}x the window"
        )
    return figures, fitted["all"]


def bench_scipy(
    reference: pd.DataFrame, current: pd.DataFrame, fitted: Reference, columns: int
) -> None:
    names = list(reference.columns[:columns])
    values = len(current) * len(names)
    sub_current = current[names]
    ours_ref = Reference({n: fitted.columns[n] for n in names}, fitted.rows, 0.0)
    print(f"-- scipy side by side on {len(names)} columns ({values / 1e6:.0f}M values)")
    for method, compute in (("ks", _scipy_ks), ("wasserstein", _scipy_w), ("js", _scipy_js)):
        started = time.perf_counter()
        theirs = [
            float(compute(reference[n].to_numpy(), current[n].to_numpy(), fitted.columns[n]))
            for n in names
        ]
        scipy_seconds = time.perf_counter() - started
        settings = DriftSettings(methods=(method,))
        started = time.perf_counter()
        ours = [f.scores[method] for f in score_frame(ours_ref, sub_current, settings).features]
        ours_seconds = time.perf_counter() - started
        diff = max(abs(a - b) for a, b in zip(theirs, ours, strict=True))
        name = {"ks": "ks_2samp statistic", "wasserstein": "wasserstein_distance / std"}.get(
            method, "jensenshannon of np.histogram counts, same edges"
        )
        print(
            f"{name:<48} scipy {scipy_seconds:7.3f} s  ours {ours_seconds:7.3f} s  "
            f"{scipy_seconds / ours_seconds:5.1f}x  max |diff| {diff:.1e}"
        )
        print(f"   first columns: scipy {_few(theirs)}  ours {_few(ours)}")


def _scipy_ks(r: np.ndarray, c: np.ndarray, _column: Any) -> float:
    # "asymp": the statistic with the cheap p-value; the exact p-value would dominate the time.
    return float(ks_2samp(r, c, method="asymp").statistic)


def _scipy_w(r: np.ndarray, c: np.ndarray, _column: Any) -> float:
    return float(wasserstein_distance(r, c) / r.std())


def _scipy_js(r: np.ndarray, c: np.ndarray, column: Any) -> float:
    edges = _closed(column.edges, r, c)
    return float(jensenshannon(np.histogram(r, edges)[0], np.histogram(c, edges)[0], base=2))


def _closed(edges: np.ndarray, r: np.ndarray, c: np.ndarray) -> np.ndarray:
    low = min(r.min(), c.min())
    high = max(r.max(), c.max())
    return np.concatenate(([low], edges, [np.nextafter(high, np.inf)]))


def _few(scores: list[float]) -> str:
    return " ".join(f"{s:.6f}" for s in scores[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-evidently", action="store_true")
    parser.add_argument("--no-report", action="store_true", help="skip Evidently's Report run")
    parser.add_argument("--scipy-columns", type=int, default=10)
    args = parser.parse_args()
    print(
        f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}; "
        "scoring runs on one thread, so values/s are per core"
    )
    evidently = not args.no_evidently and ensure_evidently()
    summary = []
    for features in args.features:
        print(f"\n== {args.rows:,} rows x {features} numeric features, repeat {args.repeat}")
        reference, current = make_data(args.rows, features)
        figures, fitted = bench_ours(reference, current, args.repeat)
        ratio = None
        if evidently:
            result = run_evidently(reference, current, args.repeat, not args.no_report)
            ours_psi = current.size / figures["psi"]
            ratio = result["psi_seconds"] / ours_psi
            print(
                f"-- Evidently {result['evidently_version']} (pandas {result['pandas_version']}):"
                f" PSI per column {result['psi_seconds']:.3f} s; ours (reference fitted) "
                f"{ours_psi:.3f} s: {ratio:.1f}x faster"
            )
            if "report_seconds" in result:
                print(
                    f"   Report([DataDriftPreset(method='psi')]).run: "
                    f"{result['report_seconds']:.1f} s"
                )
            same = [
                evidently_psi_same_bins(reference[n].to_numpy(), current[n].to_numpy(), edges)
                for n, edges in zip(reference.columns, result["edges"], strict=True)
            ]
            diff = max(abs(a - b) for a, b in zip(same, result["scores"], strict=True))
            print(
                "   same bins (Evidently's: Sturges over reference + current): Evidently "
                f"{_few(result['scores'])}  ours {_few(same)}  max |diff| {diff:.1e}"
            )
        if args.scipy_columns:
            bench_scipy(reference, current, fitted, args.scipy_columns)
        summary.append((features, figures, ratio))
        del reference, current, fitted
    print("\n== goals")
    for features, figures, ratio in summary:
        psi_rate = figures["psi"] / 1e6
        print(
            f"x{features}: PSI {psi_rate:.0f} M values/s/core (goal >= 100: "
            f"{'met' if psi_rate >= 100 else 'NOT met'}); "
            + (
                f"{ratio:.0f}x Evidently (goal >= 20: {'met' if ratio >= 20 else 'NOT met'}); "
                if ratio is not None
                else "Evidently not run; "
            )
            + f"peak {figures['peak psi']:.2f}x window with PSI, {figures['peak all four']:.2f}x "
            f"with all four (goal < 2: "
            f"{'met' if max(figures['peak psi'], figures['peak all four']) < 2 else 'NOT met'})"
        )


if __name__ == "__main__":
    main()

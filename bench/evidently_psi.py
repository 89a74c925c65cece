"""Evidently 0.7's PSI on the data bench/drift.py wrote; runs in bench/.venv-evidently.

Not run on its own: bench/drift.py calls it with the paths of two ``.npy`` arrays (one row per
feature) and reads the JSON it prints: per column Evidently's PSI, the bin edges it used
(``np.histogram_bin_edges`` of reference + current, Sturges' rule, which is what
``evidently.legacy.calculations.stattests.utils.get_binned_data`` does for numeric columns with
more than 20 distinct values), and the times.
"""

import argparse
import json
import statistics
import time
from typing import Any

import numpy as np
import pandas as pd
from evidently import DataDefinition, Dataset, Report  # type: ignore[import-not-found]
from evidently.legacy.calculations.stattests.psi import (  # type: ignore[import-not-found]
    psi_stat_test,
)
from evidently.legacy.core import ColumnType  # type: ignore[import-not-found]
from evidently.presets import DataDriftPreset  # type: ignore[import-not-found]


def frame(path: str) -> pd.DataFrame:
    data = np.load(path, mmap_mode="r")
    return pd.DataFrame({f"f{i:03d}": np.array(data[i]) for i in range(data.shape[0])})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("reference")
    parser.add_argument("current")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--report", action="store_true", help="also time the full Report")
    args = parser.parse_args()
    reference, current = frame(args.reference), frame(args.current)

    scores: list[float] = []
    times = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        scores = [
            float(
                psi_stat_test(
                    reference[name], current[name], ColumnType.Numerical, None
                ).drift_score
            )
            for name in reference.columns
        ]
        times.append(time.perf_counter() - started)
    edges = [
        np.histogram_bin_edges(
            np.concatenate([reference[name].to_numpy(), current[name].to_numpy()]), bins="sturges"
        ).tolist()
        for name in reference.columns
    ]
    result: dict[str, Any] = {
        "evidently_version": __import__("evidently").__version__,
        "pandas_version": pd.__version__,
        "psi_seconds": statistics.median(times),
        "psi_seconds_all": times,
        "scores": scores,
        "edges": edges,
    }
    if args.report:
        definition = DataDefinition(numerical_columns=list(reference.columns))
        started = time.perf_counter()
        snapshot = Report([DataDriftPreset(method="psi")]).run(
            Dataset.from_pandas(current, data_definition=definition),
            Dataset.from_pandas(reference, data_definition=definition),
        )
        result["report_seconds"] = time.perf_counter() - started
        result["report_scores"] = [
            float(metric["value"])
            for metric in snapshot.dict()["metrics"]
            if metric["metric_name"].startswith("ValueDrift(")
        ]
    print(json.dumps(result))


if __name__ == "__main__":
    main()

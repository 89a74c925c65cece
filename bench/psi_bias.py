"""PSI without drift: its mean by window size, to choose --min-rows (the README's table).

Reference and current are drawn from the same normal distribution, so every PSI above 0 is
sampling noise; the mean is compared with the approximation (bins - 1) * (1/current + 1/reference).

    .venv/bin/python bench/psi_bias.py [--bins 10] [--trials 400]
"""

import argparse

import numpy as np
import pandas as pd

from exporter.drift import DriftSettings, fit_reference
from exporter.drift.scoring import score_column

SIZES = [(100, 100), (1000, 100), (1000, 1000), (10_000, 1000), (100_000, 1000), (100_000, 10_000)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bins", type=int, default=10)
    parser.add_argument("--trials", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    settings = DriftSettings(bins=args.bins, min_rows=1)
    print(
        "| reference rows | current rows | mean PSI, no drift | 95th percentile | "
        "(bins-1)(1/n+1/m) |"
    )
    print("|---:|---:|---:|---:|---:|")
    for reference_rows, current_rows in SIZES:
        values = []
        for _ in range(args.trials):
            frame = pd.DataFrame({"x": rng.normal(0, 1, reference_rows)})
            column = fit_reference(frame, settings).columns["x"]
            current = pd.Series(rng.normal(0, 1, current_rows), name="x")
            values.append(score_column(column, current, settings).scores["psi"])
        approx = (args.bins - 1) * (1 / current_rows + 1 / reference_rows)
        print(
            f"| {reference_rows:,} | {current_rows:,} | {np.mean(values):.4f} | "
            f"{np.percentile(values, 95):.4f} | {approx:.4f} |"
        )


if __name__ == "__main__":
    main()

"""Made-up model inputs with what real ones have: ties, missing values, new categories, times."""

import numpy as np
import pandas as pd


def model_inputs(
    rng: np.random.Generator, rows: int, shift: float = 0.0, start: float = 1.7e9
) -> pd.DataFrame:
    """``rows`` rows, drifted by ``shift``; ``ts`` is Unix seconds, one row a second."""
    income = rng.lognormal(10 + shift / 10, 1, rows)
    income[rng.random(rows) < 0.02] = np.nan
    cities = ["lyon", "nice", "paris"] + (["lille"] if shift else [])
    city = rng.choice(cities, rows).astype(object)
    city[rng.random(rows) < 0.01] = None
    return pd.DataFrame(
        {
            "ts": start + np.arange(rows, dtype=np.float64),
            "age": rng.normal(40 + shift, 10, rows).round(),
            "income": income,
            "score": rng.normal(shift / 5, 1, rows).astype(np.float32),
            "city": city,
            "member": rng.random(rows) < 0.3 + shift / 50,
        }
    )

"""A fitted reference saved as JSON: fit once (``drift-exporter fit``), score anywhere.

The file holds what scoring needs and nothing of the data itself: bin edges and counts,
categories and their counts, and each numeric column's quantile grid (points, counts, sums) for
KS/Wasserstein. Floats are written with Python's shortest round-trip repr, so a reference read
back bins every value exactly as the one that was fitted.
"""

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from exporter.drift.grid import GridCounts, QuantileGrid
from exporter.drift.reference import (
    CategoricalReference,
    ColumnReference,
    NumericReference,
    Reference,
)

FORMAT = "drift-retrain-bridge/reference"
VERSION = 1
SUFFIX = ".json"


def is_reference_file(path: Path) -> bool:
    """True for a saved reference (a ``.json`` file), False for reference data to fit."""
    return path.name.lower().endswith(SUFFIX)


def reference_json(reference: Reference, bins: int) -> dict[str, Any]:
    """The reference as JSON-ready values."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "bins": bins,
        "rows": reference.rows,
        "fit_seconds": reference.fit_seconds,
        "columns": [_column_json(column) for column in reference.columns.values()],
    }


def _column_json(column: ColumnReference) -> dict[str, Any]:
    common = {
        "name": column.name,
        "kind": column.kind,
        "storage": column.storage,
        "values": column.values,
        "missing": column.missing,
        "counts": column.counts.tolist(),
    }
    if isinstance(column, CategoricalReference):
        return {**common, "categories": list(column.categories)}
    grid = column.grid
    return {
        **common,
        "edges": column.edges.tolist(),
        "masses": column.masses.tolist(),
        "std": column.std,
        "grid": None
        if grid is None
        else {
            "points": grid.points.tolist(),
            "center": grid.center,
            "counts": grid.reference.counts.tolist(),
            "sums": grid.reference.sums.tolist(),
        },
    }


def save_reference(reference: Reference, bins: int, path: Path) -> None:
    """Write the reference to ``path`` (via a temporary file, so a reader never sees half)."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(reference_json(reference, bins), allow_nan=False) + "\n")
    temporary.replace(path)


def load_reference_file(path: Path, bins: int) -> Reference:
    """Read a saved reference; ValueError naming the file and the key for anything wrong."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a saved reference: {err}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f'{path}: not a saved reference (no "format": "{FORMAT}")')
    if data.get("version") != VERSION:
        raise ValueError(f"{path}: reference version {data.get('version')!r}, expected {VERSION}")
    if data.get("bins") != bins:
        raise ValueError(
            f"{path}: fitted with {data.get('bins')} bins, not {bins}: pass --bins "
            f"{data.get('bins')} or fit it again"
        )
    try:
        columns = [_column(item) for item in data["columns"]]
        return Reference(
            {c.name: c for c in columns}, int(data["rows"]), float(data["fit_seconds"])
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: bad or missing key {err}") from None


def _column(item: dict[str, Any]) -> ColumnReference:
    counts = np.asarray(item["counts"], dtype=np.int64)
    if item["kind"] == "categorical":
        return CategoricalReference(
            name=str(item["name"]),
            categories=pd.Index([str(c) for c in item["categories"]]),
            counts=counts,
            values=int(item["values"]),
            missing=int(item["missing"]),
            storage=str(item["storage"]),
        )
    grid = item["grid"]
    return NumericReference(
        name=str(item["name"]),
        edges=np.asarray(item["edges"], dtype=np.float64),
        # Absent from files saved before mass points had bins of their own: the edges hold them.
        masses=np.asarray(item.get("masses", []), dtype=np.float64),
        counts=counts,
        values=int(item["values"]),
        missing=int(item["missing"]),
        std=float(item["std"]),
        sample=None,
        grid=None
        if grid is None
        else QuantileGrid(
            points=np.asarray(grid["points"], dtype=np.float64),
            center=float(grid["center"]),
            reference=GridCounts(
                np.asarray(grid["counts"], dtype=np.int64),
                np.asarray(grid["sums"], dtype=np.float64),
            ),
        ),
    )


def select(reference: Reference, features: list[str], path: Path) -> Reference:
    """The saved reference restricted to ``features`` (all of it when empty)."""
    if not features:
        return reference
    absent = [name for name in features if name not in reference.columns]
    if absent:
        raise ValueError(
            f"{path}: no feature(s) {', '.join(absent)} (saved: {', '.join(reference.columns)})"
        )
    columns = {name: reference.columns[name] for name in features}
    return Reference(columns, reference.rows, reference.fit_seconds)

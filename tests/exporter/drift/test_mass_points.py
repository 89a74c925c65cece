"""A mostly-one-value (zero-inflated) column still gets bins where PSI/JS see a change."""

import logging

import numpy as np
import pandas as pd
import pytest

from exporter.drift import DriftSettings, fit_reference, score_frame
from exporter.drift.reference import NumericReference, bin_edges
from exporter.drift.stats import bin_counts

rng = np.random.default_rng(17)


def precipitation(rows: int, dry_share: float) -> pd.DataFrame:
    """Rain per hour: exactly 0 most hours, a skewed amount otherwise."""
    dry = rng.random(rows) < dry_share
    return pd.DataFrame({"precip": np.where(dry, 0.0, rng.exponential(0.1, rows))})


def test_a_mass_point_gets_a_bin_of_its_own_and_the_rest_keeps_quantile_bins() -> None:
    values = np.sort(precipitation(20_000, dry_share=0.9)["precip"].to_numpy())
    edges, masses = bin_edges(values, 10)
    assert masses.tolist() == [0.0]
    counts, _ = bin_counts(values, edges)
    zero_bin = int(np.searchsorted(edges, 0.0, side="right"))
    assert counts[zero_bin] == np.count_nonzero(values == 0)  # the zeros, and nothing else
    rest = np.delete(counts, zero_bin)
    assert rest.sum() == np.count_nonzero(values > 0)
    assert (rest[rest > 0] > 0.05 * rest.sum()).all()  # the rain is spread over several bins


def test_columns_without_a_mass_point_keep_plain_quantile_edges() -> None:
    values = np.sort(rng.normal(size=5000))
    edges, masses = bin_edges(values, 10)
    assert len(masses) == 0
    assert np.array_equal(edges, np.quantile(values, np.arange(1, 10) / 10))


def test_psi_and_js_see_a_zero_inflated_column_change() -> None:
    """The issue's `precip`: PSI was exactly 0 on a column that is 90 % zeros."""
    settings = DriftSettings(methods=("psi", "js", "wasserstein"))
    reference = fit_reference(precipitation(20_000, dry_share=0.9), settings)
    same = score_frame(reference, precipitation(10_000, dry_share=0.9), settings)
    wetter = score_frame(reference, precipitation(10_000, dry_share=0.7), settings)
    assert same.features[0].scores["psi"] < 0.01
    assert wetter.features[0].scores["psi"] > 0.2
    assert wetter.features[0].scores["js"] > 0.1
    assert wetter.score is not None
    assert wetter.score > 0.2


def test_a_constant_reference_sees_values_move_off_it() -> None:
    settings = DriftSettings()
    reference = fit_reference(pd.DataFrame({"x": np.full(2000, 3.0)}), settings)
    column = reference.columns["x"]
    assert isinstance(column, NumericReference)
    assert column.masses.tolist() == [3.0]
    higher = score_frame(reference, pd.DataFrame({"x": np.full(2000, 3.5)}), settings)
    assert higher.score is not None
    assert higher.score > 1


def test_collapsed_bins_are_warned_about_once_per_feature(
    caplog: pytest.LogCaptureFixture,
) -> None:
    frame = precipitation(5000, dry_share=0.8).assign(
        snow=np.where(rng.random(5000) < 0.95, 0.0, 1.0), temp=rng.normal(size=5000)
    )
    with caplog.at_level(logging.WARNING, logger="exporter.drift"):
        fit_reference(frame, DriftSettings(), source="weather.csv")
    warned = [r.getMessage() for r in caplog.records if "bins collapse" in r.getMessage()]
    assert len(warned) == 2
    assert warned[0].startswith("weather.csv: column 'precip': quantile bins collapse on 0 (8")
    assert warned[1].startswith("weather.csv: column 'snow': quantile bins collapse on 0 (95%)")

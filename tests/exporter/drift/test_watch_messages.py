"""What ``watch`` says about its input: a missing path as such, and the same counts as ``score``."""

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exporter.drift import DriftSettings, fit_reference, score_frame
from exporter.drift.monitor import Monitor
from exporter.drift.report import format_table, report_dict
from exporter.drift.sources import Source
from exporter.drift.window import Window, WindowSpec

rng = np.random.default_rng(23)
# KS first: the categorical feature has no KS score, so 1 of the 2 features makes drift_score.
SETTINGS = DriftSettings(methods=("ks", "psi"), min_rows=100)


def make_frame(rows: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"age": rng.normal(40, 10, rows), "city": rng.choice(["lyon", "nice"], rows)}
    )


def make_monitor(current: Path) -> Monitor:
    reference = fit_reference(make_frame(2000), SETTINGS)
    window = Window(WindowSpec(rows=1000), list(reference.columns))
    return Monitor("churn", reference, SETTINGS, window, Source(current))


def test_a_missing_current_path_is_reported_as_missing_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "incoming"
    monitor = make_monitor(missing)
    with caplog.at_level(logging.WARNING, logger="exporter.drift"):
        monitor.poll()
        monitor.poll()
    warnings = [r.getMessage() for r in caplog.records]
    # No scores exist yet, so none is said to be kept.
    assert warnings == [f"{missing}: no such file or directory"]
    assert monitor.status().failing == "unreadable"

    missing.mkdir()  # the directory appears later: its files are read
    make_frame(500).to_csv(missing / "001.csv", index=False)
    assert monitor.poll()
    assert monitor.status().failing is None
    assert monitor.status().result is not None


def test_watch_and_score_count_the_same_features(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    current = make_frame(500)
    current.to_csv(tmp_path / "001.csv", index=False)
    monitor = make_monitor(tmp_path)
    with caplog.at_level(logging.INFO, logger="exporter.drift"):
        monitor.poll()
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("drift score")]
    assert len(logged) == 1
    assert "(max of ks over 1 feature(s), 500 rows)" in logged[0]

    result = score_frame(monitor.reference, current, SETTINGS)
    report = report_dict(result, SETTINGS, None, reference={}, current={})
    assert report["scored_features"] == 1
    assert "(max of ks over 1 feature(s), 500 rows)" in format_table(report, SETTINGS.methods)

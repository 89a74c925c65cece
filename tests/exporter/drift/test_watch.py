"""``drift-exporter watch``: scores follow new data, bad data is counted and the last good stays."""

import signal
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
from prometheus_client import CollectorRegistry, generate_latest

from demo.harness.processes import Process, free_port, venv_script, wait_until
from exporter.drift import DriftSettings, fit_reference, score_frame
from exporter.drift.collector import DriftCollector
from exporter.drift.monitor import Monitor
from exporter.drift.sources import Source
from exporter.drift.window import Window, WindowSpec
from tests.support.exposition import scrape_text

rng = np.random.default_rng(5)
SETTINGS = DriftSettings(methods=("psi", "ks"), min_rows=100)


def make_frame(rows: int, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(
        {"age": rng.normal(40 + shift, 10, rows), "city": rng.choice(["lyon", "nice"], rows)}
    )


def scrape(monitor: Monitor) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    registry = CollectorRegistry()
    registry.register(DriftCollector(monitor))
    return scrape_text(generate_latest(registry).decode())


def make_monitor(incoming: Path, rows: int = 500) -> Monitor:
    reference = fit_reference(make_frame(5000), SETTINGS)
    window = Window(WindowSpec(rows=rows), list(reference.columns))
    return Monitor("churn", reference, SETTINGS, window, Source(incoming))


def labels(**pairs: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(pairs.items()))


def test_before_any_data_the_reason_is_published_and_every_series_exists(tmp_path: Path) -> None:
    monitor = make_monitor(tmp_path)
    monitor.poll()
    samples = scrape(monitor)
    assert "drift_score" not in samples
    assert samples["drift_score_unavailable"] == {
        labels(model="churn", reason="no_data"): 1,
        labels(model="churn", reason="window_too_small"): 0,
        labels(model="churn", reason="too_few_values"): 0,
    }
    assert samples["drift_input_errors_total"] == {
        labels(model="churn", reason=reason): 0
        for reason in ("unreadable", "missing_column", "type_mismatch", "internal")
    }
    assert samples["drift_window_rows"] == {labels(model="churn"): 0}
    assert samples["drift_reference_rows"] == {labels(model="churn"): 5000}


def test_new_files_are_scored_over_the_latest_rows(tmp_path: Path) -> None:
    monitor = make_monitor(tmp_path, rows=500)
    first, second = make_frame(400), make_frame(300, shift=10)
    first.to_csv(tmp_path / "001.csv", index=False)
    before = time.time()
    assert monitor.poll()
    samples = scrape(monitor)
    reference = monitor.reference
    expected = score_frame(reference, first, SETTINGS)
    assert samples["drift_score"][labels(model="churn")] == pytest.approx(expected.score)
    age_ks = labels(model="churn", feature="age", method="ks")
    assert samples["drift_feature_score"][age_ks] == pytest.approx(
        expected.features[0].scores["ks"]
    )
    assert samples["drift_last_computation_timestamp_seconds"][labels(model="churn")] >= before

    second.to_parquet(tmp_path / "002.parquet")
    assert monitor.poll()
    window = pd.concat([first.iloc[200:], second], ignore_index=True)
    expected = score_frame(reference, window, SETTINGS)
    samples = scrape(monitor)
    assert samples["drift_window_rows"][labels(model="churn")] == 500
    assert samples["drift_score"][labels(model="churn")] == pytest.approx(expected.score)
    assert samples["drift_input_files_total"][labels(model="churn")] == 2
    assert not monitor.poll()  # nothing new: nothing read, nothing scored


def test_bad_input_is_counted_with_its_reason_and_the_last_good_scores_stay(
    tmp_path: Path,
) -> None:
    monitor = make_monitor(tmp_path)
    make_frame(500).to_csv(tmp_path / "001.csv", index=False)
    monitor.poll()
    good = scrape(monitor)
    make_frame(500).drop(columns="city").to_csv(tmp_path / "002.csv", index=False)
    make_frame(500).assign(age="old").to_csv(tmp_path / "003.csv", index=False)
    (tmp_path / "004.parquet").write_bytes(b"garbage")
    assert not monitor.poll()
    bad = scrape(monitor)
    for kept in ("drift_score", "drift_feature_score", "drift_last_computation_timestamp_seconds"):
        assert bad[kept] == good[kept]
    churn = {"model": "churn"}
    for reason in ("missing_column", "type_mismatch", "unreadable"):
        assert bad["drift_input_errors_total"][labels(**churn, reason=reason)] == 1
    assert bad["drift_input_failing"][labels(**churn, reason="unreadable")] == 1
    assert bad["drift_input_failing"][labels(**churn, reason="type_mismatch")] == 0
    assert "004.parquet: cannot read" in (monitor.status().last_error or "")

    make_frame(500, shift=30).to_csv(tmp_path / "005.csv", index=False)
    assert monitor.poll()
    recovered = scrape(monitor)
    assert recovered["drift_input_failing"][labels(**churn, reason="unreadable")] == 0
    assert recovered["drift_score"][labels(**churn)] > good["drift_score"][labels(**churn)]


@pytest.mark.integration
def test_watch_serves_metrics_follows_a_directory_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    make_frame(5000).to_parquet(tmp_path / "ref.parquet")
    argv = [
        venv_script("drift-exporter"),
        "watch",
        f"--reference={tmp_path / 'ref.parquet'}",
        f"--current={incoming}",
        "--model=churn",
        "--method=psi",
        "--window-rows=1000",
        "--min-rows=500",
        "--interval=0.2s",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    url = f"http://127.0.0.1:{port}/metrics"

    def metrics() -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
        return scrape_text(requests.get(url, timeout=5).text)

    with Process("watch", argv, tmp_path) as watch:
        watch.wait_http(f"http://127.0.0.1:{port}/-/healthy")
        reason = labels(model="churn", reason="no_data")
        assert metrics()["drift_score_unavailable"][reason] == 1

        make_frame(1000).to_csv(incoming / ".001.csv", index=False)
        (incoming / ".001.csv").rename(incoming / "001.csv")
        calm = wait_until(lambda: metrics().get("drift_score"), 10, "a first drift_score")
        (incoming / "002.csv").write_text("age\n1\n")
        failing = labels(model="churn", reason="missing_column")
        wait_until(
            lambda: metrics()["drift_input_errors_total"][failing] or None, 10, "an error count"
        )
        assert metrics()["drift_score"] == calm
        status = requests.get(f"http://127.0.0.1:{port}/api/status", timeout=5).json()
        assert "002.csv: missing column(s) city" in status["last_error"]

        make_frame(1000, shift=25).to_parquet(incoming / "003.parquet")
        drifted = wait_until(
            lambda: s if (s := metrics().get("drift_score")) != calm else None, 10, "a new score"
        )
        assert drifted[labels(model="churn")] > 0.2

        watch.signal(signal.SIGTERM)
        started = time.monotonic()
        assert watch.stop(timeout=5) == 0
        assert time.monotonic() - started < 3
    assert "Traceback" not in watch.logs()


@pytest.mark.integration
def test_watch_refuses_a_bad_reference_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "ref.csv").write_text("age,city\n")
    argv = [
        venv_script("drift-exporter"),
        "watch",
        f"--reference={tmp_path / 'ref.csv'}",
        f"--current={tmp_path}",
        "--model=churn",
        f"--web.listen-address=127.0.0.1:{free_port()}",
    ]
    with Process("watch", argv, tmp_path) as watch:
        wait_until(lambda: None if watch.running() else True, 20, "watch to exit")
        assert watch.stop() == 2
    assert watch.logs().strip() == (
        f"drift-exporter: error: {tmp_path / 'ref.csv'}: column 'age' has no values (all missing)"
    )

"""What Prometheus scrapes from ``drift-exporter simulate``."""

import signal
import time
from pathlib import Path

import pytest
import requests
from prometheus_client import CollectorRegistry, generate_latest

from demo.harness.processes import Process, free_port, venv_script
from exporter.simulation.collector import SimulationCollector
from exporter.simulation.simulator import Simulator
from exporter.simulation.story import ModelSpec, simulate_scores
from tests.support.exposition import scrape_text


def test_collector_exports_a_gauge_per_model_with_help() -> None:
    sim = Simulator([ModelSpec("churn"), ModelSpec("fraud", "healthy", 7)], days=40, start_day=31)
    registry = CollectorRegistry()
    registry.register(SimulationCollector(sim))
    text = generate_latest(registry).decode()
    assert "# HELP drift_score Data drift score" in text
    assert "# TYPE drift_score gauge" in text
    samples = scrape_text(text)
    assert samples["drift_score"] == {
        (("model", "churn"),): simulate_scores(40)[31],
        (("model", "fraud"),): simulate_scores(40, 7, "healthy")[31],
    }
    assert samples["drift_simulation_day"] == {(): 31.0}
    assert samples["drift_model_info"][(("model", "fraud"), ("profile", "healthy"), ("seed", "7"))]
    assert samples["drift_retrainings_total"][(("model", "churn"),)] == 0


@pytest.mark.integration
def test_simulate_serves_advances_retrains_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = [
        venv_script("drift-exporter"),
        "simulate",
        f"--web.listen-address=127.0.0.1:{port}",
        "--model=churn-classifier:drifting:42",
        "--model=fraud-detector:healthy:7",
        "--days=40",
        "--start-day=30",
        "--step-seconds=0.3",
    ]
    with Process("exporter", argv, tmp_path) as exporter:
        exporter.wait_http(f"{base}/-/healthy")
        first = scrape_text(requests.get(f"{base}/metrics", timeout=5).text)
        day = first["drift_simulation_day"][()]
        assert day >= 30
        time.sleep(0.8)
        later = scrape_text(requests.get(f"{base}/metrics", timeout=5).text)
        assert later["drift_simulation_day"][()] > day
        # The scores follow the simulated day.
        now = int(later["drift_simulation_day"][()])
        assert (
            later["drift_score"][(("model", "churn-classifier"),)]
            == pytest.approx(simulate_scores(40)[now])
            or later["drift_simulation_day"][()] != now
        )

        retrained = requests.post(f"{base}/api/models/churn-classifier/retrain", timeout=5)
        assert retrained.status_code == 200
        assert retrained.json()["model"]["days_since_reference"] == 0
        after = scrape_text(requests.get(f"{base}/metrics", timeout=5).text)
        assert after["drift_score"][(("model", "churn-classifier"),)] < 0.15
        assert after["drift_retrainings_total"][(("model", "churn-classifier"),)] == 1

        unknown = requests.post(f"{base}/api/models/nope/retrain", timeout=5)
        assert unknown.status_code == 404
        assert "unknown model 'nope'" in unknown.json()["error"]

        exporter.signal(signal.SIGTERM)
        started = time.monotonic()
        assert exporter.stop(timeout=5) == 0
        assert time.monotonic() - started < 3
    assert "Traceback" not in exporter.logs()


@pytest.mark.integration
def test_simulate_refuses_a_busy_port_with_one_line(tmp_path: Path) -> None:
    port = free_port()
    argv = [venv_script("drift-exporter"), "simulate", f"--web.listen-address=127.0.0.1:{port}"]
    with Process("first", argv, tmp_path) as first:
        first.wait_http(f"http://127.0.0.1:{port}/-/healthy")
        with Process("second", argv, tmp_path) as second:
            deadline = time.monotonic() + 10
            while second.running() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert second.stop() == 2
        assert second.logs() == (
            f"drift-exporter: error: cannot listen on 127.0.0.1:{port}: address already in use "
            "(choose another with --web.listen-address)\n"
        )
        assert "Traceback" not in second.logs()

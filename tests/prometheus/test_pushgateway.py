"""A batch job's push -> the real Pushgateway -> the real Prometheus with the shipped rules."""

import json
from pathlib import Path

import numpy as np
import pytest

from demo.harness.processes import free_port, wait_until
from demo.harness.stack import (
    PROMETHEUS_DIR,
    load_yaml,
    prometheus_process,
    prometheus_query,
    render_prometheus,
    render_rules,
    write_yaml,
)
from tests.support.drift_data import model_inputs
from tests.support.exporter import RunExporter
from tests.support.pushgateway import Pushgateway

pytestmark = pytest.mark.integration

rng = np.random.default_rng(5)


def firing(port: int, alert: str) -> list[dict[str, str]] | None:
    """The labels of ``alert``'s firing series, or None while there is none."""
    found = prometheus_query(port, f'ALERTS{{alertname="{alert}", alertstate="firing"}}')
    return [series["metric"] for series in found] or None


def test_a_pushed_score_alerts_on_drift_and_when_it_gets_older_than_its_max_age(
    tmp_path: Path, pushgateway: Pushgateway, run_exporter: RunExporter
) -> None:
    model_inputs(rng, 5000).to_parquet(tmp_path / "reference.parquet")
    model_inputs(rng, 3000, shift=6).to_parquet(tmp_path / "current.parquet")
    rules = load_yaml(PROMETHEUS_DIR / "prometheus.yml")["rule_files"]
    assert "rules/pushgateway.rules.yml" in rules
    config = render_prometheus(
        tmp_path,
        {"pushgateway": pushgateway.target},
        [],
        render_rules(tmp_path, for_="1s"),
    )
    # Both shipped rule files, as prometheus.yml lists them.
    rendered = load_yaml(config)
    rendered["rule_files"].append(str(PROMETHEUS_DIR / "rules" / "pushgateway.rules.yml"))
    write_yaml(config, rendered)
    (scrape_job,) = [job for job in rendered["scrape_configs"] if job["job_name"] == "pushgateway"]
    assert scrape_job["honor_labels"] is True

    score = [
        "score",
        "--reference",
        str(tmp_path / "reference.parquet"),
        "--current",
        str(tmp_path / "current.parquet"),
        "--timestamp-column=ts",
        "--model=churn",
        f"--push-gateway={pushgateway.url}",
        "--format=json",
    ]
    port = free_port()
    with prometheus_process(config, tmp_path, port) as prometheus:
        prometheus.wait_http(f"http://127.0.0.1:{port}/-/ready")
        code, out, err = run_exporter(*score, "--max-age=4s")
        assert code == 1, err
        pushed = json.loads(out)["drift_score"]

        def scraped() -> float | None:
            found = prometheus_query(port, 'drift_score{job="drift-batch", model="churn"}')
            return float(found[0]["value"][1]) if found else None

        assert wait_until(scraped, 30, "the pushed drift_score in Prometheus") == pushed
        (drift,) = wait_until(lambda: firing(port, "ModelDriftHigh"), 30, "ModelDriftHigh")
        assert (drift["job"], drift["model"]) == ("drift-batch", "churn")

        # No new push within 4s: the score is stale.
        (stale,) = wait_until(lambda: firing(port, "DriftScoreStale"), 30, "DriftScoreStale")
        assert (stale["job"], stale["model"], stale["severity"]) == (
            "drift-batch",
            "churn",
            "warning",
        )

        # The job runs again, now allowed an hour: the alert resolves.
        code, _, err = run_exporter(*score, "--max-age=1h")
        assert code == 1, err
        wait_until(
            lambda: True if firing(port, "DriftScoreStale") is None else None,
            30,
            "DriftScoreStale to resolve",
        )
        assert firing(port, "ModelDriftHigh")
    assert not prometheus.running()

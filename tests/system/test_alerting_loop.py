"""Exporter -> real Prometheus with the shipped rules -> real Alertmanager -> webhook receiver."""

from pathlib import Path

import pytest
import requests

from demo.harness.processes import free_port, wait_until
from demo.harness.stack import (
    alertmanager_process,
    exporter_process,
    prometheus_process,
    prometheus_query,
    render_alertmanager,
    render_prometheus,
    render_rules,
)
from tests.support.dashboard import (
    DRIFT_ROW,
    SIMULATION_ROW,
    dashboard_queries,
    variable_metrics,
)
from tests.support.receiver import Received, webhook_receiver

pytestmark = pytest.mark.integration

TOKEN = "integration-test-token"


def test_alert_fires_for_the_drifting_model_only_and_reaches_the_webhook(tmp_path: Path) -> None:
    exporter_port, prom_port, am_port = free_port(), free_port(), free_port()
    token_file = tmp_path / "bridge.token"
    token_file.write_text(TOKEN + "\n")

    with webhook_receiver() as (receiver_url, recorder):
        am_config = render_alertmanager(tmp_path, f"{receiver_url}/alerts", token_file)
        prom_config = render_prometheus(
            tmp_path,
            {"drift-exporter": f"127.0.0.1:{exporter_port}"},
            [f"127.0.0.1:{am_port}"],
            render_rules(tmp_path, for_="2s"),
        )
        exporter = exporter_process(tmp_path, exporter_port, "--days=40", "--step-seconds=0")
        with (
            exporter,
            alertmanager_process(am_config, tmp_path, am_port) as alertmanager,
            prometheus_process(prom_config, tmp_path, prom_port) as prometheus,
        ):
            exporter.wait_http(f"http://127.0.0.1:{exporter_port}/-/healthy")
            alertmanager.wait_http(f"http://127.0.0.1:{am_port}/-/ready")
            prometheus.wait_http(f"http://127.0.0.1:{prom_port}/-/ready")

            def firing_webhook() -> Received | None:
                for request in recorder.requests:
                    if request.body.get("status") == "firing":
                        return request
                return None

            webhook = wait_until(firing_webhook, 40, "the firing webhook", interval=0.25)

            assert webhook.path == "/alerts"
            assert webhook.headers["Authorization"] == f"Bearer {TOKEN}"
            assert webhook.headers["User-Agent"].startswith("Alertmanager/0.25")
            body = webhook.body
            assert body["version"] == "4"
            assert body["groupLabels"] == {
                "alertname": "ModelDriftHigh",
                "model": "churn-classifier",
            }
            (alert,) = body["alerts"]
            assert alert["status"] == "firing"
            assert alert["labels"] == {
                "alertname": "ModelDriftHigh",
                "instance": f"127.0.0.1:{exporter_port}",
                "job": "drift-exporter",
                "model": "churn-classifier",
                "severity": "warning",
            }
            assert float(alert["annotations"]["drift_score"]) == pytest.approx(0.3389, abs=1e-4)
            assert alert["annotations"]["summary"] == (
                "Data drift for churn-classifier is 0.339 (threshold 0.2)"
            )
            assert alert["annotations"]["runbook_url"].startswith("https://")

            # The healthy model never alerted: not in Prometheus, not at the receiver.
            alerts = prometheus_query(prom_port, 'ALERTS{alertname="ModelDriftHigh"}')
            assert {a["metric"]["model"] for a in alerts} == {"churn-classifier"}
            models = {a["labels"].get("model") for r in recorder.requests for a in r.body["alerts"]}
            assert models == {"churn-classifier"}

            # Every PromQL expression of the simulation's rows parses and returns data (the
            # bridge's panels are checked with the bridge running, in tests/test_demo.py, the
            # real-data row with `watch` in test_dashboard.py).
            for title, expr, instant in dashboard_queries(DRIFT_ROW, SIMULATION_ROW):
                found = prometheus_query(prom_port, expr, over=None if instant else 60)
                assert found, f"panel {title!r}: no data for {expr}"
            for metric, label in variable_metrics():
                values = requests.get(
                    f"http://127.0.0.1:{prom_port}/api/v1/label/{label}/values",
                    params={"match[]": metric},
                    timeout=5,
                ).json()["data"]
                assert set(values) == {"churn-classifier", "fraud-detector"}
        assert not exporter.running()
        assert not prometheus.running()
        assert not alertmanager.running()

"""The pipeline's own alerts with the real Prometheus and Alertmanager: the exporter stops, the
team is told (and the bridge is not)."""

from pathlib import Path

import pytest

from demo.harness.processes import free_port, wait_until
from demo.harness.stack import (
    PROMETHEUS_DIR,
    alertmanager_process,
    exporter_process,
    load_yaml,
    prometheus_process,
    prometheus_query,
    render_alertmanager,
    render_prometheus,
    render_rules,
    write_yaml,
)
from tests.support.receiver import Received, webhook_receiver

pytestmark = pytest.mark.integration


def render_pipeline_rules(out_dir: Path, for_: str) -> Path:
    """The shipped pipeline rules with every alert's ``for`` shortened to ``for_``."""
    rules = load_yaml(PROMETHEUS_DIR / "rules" / "pipeline.rules.yml")
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                rule["for"] = for_
    return write_yaml(out_dir / "pipeline.rules.yml", rules)


def test_a_stopped_exporter_fires_an_alert_that_reaches_the_team_not_the_bridge(
    tmp_path: Path,
) -> None:
    exporter_port, prom_port, am_port = free_port(), free_port(), free_port()
    token_file = tmp_path / "bridge.token"
    token_file.write_text("pipeline-test-token\n")
    with webhook_receiver() as (bridge_url, bridge), webhook_receiver() as (team_url, team):
        am_config = render_alertmanager(tmp_path, f"{bridge_url}/alerts", token_file)
        config = load_yaml(am_config)
        (route,) = [r for r in config["route"]["routes"] if r["receiver"] == "ml-team"]
        route.update(group_wait="1s", group_interval="2s")
        (receiver,) = [r for r in config["receivers"] if r["name"] == "ml-team"]
        receiver["webhook_configs"] = [{"url": f"{team_url}/team", "send_resolved": True}]
        write_yaml(am_config, config)

        prom_config = render_prometheus(
            tmp_path,
            {
                "drift-exporter": f"127.0.0.1:{exporter_port}",
                "alertmanager": f"127.0.0.1:{am_port}",
            },
            [f"127.0.0.1:{am_port}"],
            render_rules(tmp_path, for_="2s"),
        )
        config = load_yaml(prom_config)
        config["rule_files"].append(str(render_pipeline_rules(tmp_path, for_="2s")))
        write_yaml(prom_config, config)

        # Day 10: nobody drifts, so only the pipeline's alerts can fire.
        exporter = exporter_process(tmp_path, exporter_port, "--days=10", "--step-seconds=0")
        with (
            alertmanager_process(am_config, tmp_path, am_port) as alertmanager,
            prometheus_process(prom_config, tmp_path, prom_port) as prometheus,
        ):
            alertmanager.wait_http(f"http://127.0.0.1:{am_port}/-/ready")
            prometheus.wait_http(f"http://127.0.0.1:{prom_port}/-/ready")
            with exporter:
                exporter.wait_http(f"http://127.0.0.1:{exporter_port}/-/healthy")
                wait_until(
                    lambda: prometheus_query(prom_port, 'up{job="drift-exporter"} == 1') or None,
                    30,
                    "Prometheus scraping the exporter",
                    interval=0.25,
                )
            assert not exporter.running()

            def team_alert(name: str) -> Received | None:
                for request in team.requests:
                    for alert in request.body["alerts"]:
                        if alert["labels"]["alertname"] == name and alert["status"] == "firing":
                            return request
                return None

            notified = wait_until(
                lambda: team_alert("DriftExporterDown"), 60, "DriftExporterDown at the team"
            )
            (alert,) = [
                a
                for a in notified.body["alerts"]
                if a["labels"]["alertname"] == "DriftExporterDown"
            ]
            assert alert["labels"] == {
                "alertname": "DriftExporterDown",
                "component": "drift-pipeline",
                "severity": "critical",
                "instance": f"127.0.0.1:{exporter_port}",
                "job": "drift-exporter",
            }
            assert notified.body["receiver"] == "ml-team"
            # The score disappears with the exporter: the second alert follows.
            wait_until(lambda: team_alert("DriftScoreAbsent"), 60, "DriftScoreAbsent")

            # The metric DriftBridgeNotificationsFailing reads exists in this Alertmanager.
            failed = prometheus_query(
                prom_port, 'alertmanager_notifications_failed_total{integration="webhook"}'
            )
            assert [series["metric"]["job"] for series in failed] == ["alertmanager"]
            # Nothing of the pipeline's health ever went to the bridge.
            assert not [
                a
                for request in bridge.requests
                for a in request.body["alerts"]
                if a["labels"].get("component") == "drift-pipeline"
            ]
        assert not prometheus.running()
        assert not alertmanager.running()

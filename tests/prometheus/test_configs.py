"""The shipped Prometheus/Alertmanager/Grafana files, checked by the real tools."""

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from demo.harness.stack import PROMETHEUS_DIR
from tests.support import tools


def run_tool(*argv: str, cwd: Path = PROMETHEUS_DIR) -> subprocess.CompletedProcess[str]:
    return tools.run_tool(*argv, cwd=cwd)


@pytest.mark.integration
def test_prometheus_config_and_its_rule_file_are_valid() -> None:
    result = run_tool("promtool", "check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    rule_files = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())["rule_files"]
    assert f"SUCCESS: {len(rule_files)} rule files found" in result.stdout


@pytest.mark.integration
@pytest.mark.parametrize("tests", ["drift.rules.test.yml", "pipeline.rules.test.yml"])
def test_alert_rules_pass_their_unit_tests(tests: str) -> None:
    result = run_tool("promtool", "test", "rules", f"rules/{tests}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.integration
def test_rule_unit_tests_catch_a_rule_that_fires_at_the_threshold(tmp_path: Path) -> None:
    """The unit tests are not vacuous: a `>=` rule fails them."""
    rules = (PROMETHEUS_DIR / "rules" / "drift.rules.yml").read_text()
    assert "drift_score > scalar(drift:threshold)" in rules
    (tmp_path / "drift.rules.yml").write_text(rules.replace("drift_score >", "drift_score >="))
    test_file = PROMETHEUS_DIR / "rules" / "drift.rules.test.yml"
    (tmp_path / "drift.rules.test.yml").write_text(test_file.read_text())
    result = run_tool("promtool", "test", "rules", "drift.rules.test.yml", cwd=tmp_path)
    assert result.returncode != 0
    assert 'model="at-threshold"' in result.stdout + result.stderr


def test_threshold_is_written_once() -> None:
    rules = (PROMETHEUS_DIR / "rules" / "drift.rules.yml").read_text()
    code_lines = [line for line in rules.splitlines() if not line.strip().startswith("#")]
    assert sum("0.2" in line for line in code_lines) == 1


@pytest.mark.integration
def test_alertmanager_config_is_valid() -> None:
    result = run_tool("amtool", "check-config", "alertmanager.yml")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (
            ["alertname=ModelDriftHigh", "model=churn-classifier", "severity=warning"],
            "drift-bridge",
        ),
        (["alertname=ModelDriftHigh"], "drift-bridge"),
        (["alertname=DiskFull", "model=churn-classifier"], "null"),
    ],
)
def test_drift_alerts_route_to_the_bridge(labels: list[str], receiver: str) -> None:
    result = run_tool(
        "amtool", "config", "routes", "test", "--config.file=alertmanager.yml", *labels
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == receiver


def pipeline_alerts() -> list[dict[str, Any]]:
    rules = yaml.safe_load((PROMETHEUS_DIR / "rules" / "pipeline.rules.yml").read_text())
    return [rule for group in rules["groups"] for rule in group["rules"] if "alert" in rule]


@pytest.mark.integration
def test_every_pipeline_alert_goes_to_the_team_never_to_the_bridge() -> None:
    alerts = pipeline_alerts()
    assert len(alerts) >= 9
    for rule in alerts:
        labels = [f"alertname={rule['alert']}", "model=churn-classifier"]
        labels += [f"{name}={value}" for name, value in rule["labels"].items()]
        result = run_tool(
            "amtool", "config", "routes", "test", "--config.file=alertmanager.yml", *labels
        )
        assert result.stdout.strip() == "ml-team", rule["alert"]
        assert rule["annotations"]["runbook_url"].endswith("#runbook-the-pipelines-own-alerts")


def test_bridge_receiver_resolves_and_authenticates() -> None:
    config = yaml.safe_load((PROMETHEUS_DIR / "alertmanager.yml").read_text())
    (route,) = [r for r in config["route"]["routes"] if r["receiver"] == "drift-bridge"]
    assert route["group_by"] == ["alertname", "model"]
    assert {"group_wait", "group_interval", "repeat_interval"} <= route.keys()
    (receiver,) = [r for r in config["receivers"] if r["name"] == "drift-bridge"]
    (webhook,) = receiver["webhook_configs"]
    assert webhook["send_resolved"] is True
    assert webhook["url"].endswith("/alerts")
    assert webhook["http_config"]["authorization"]["type"] == "Bearer"
    assert "credentials_file" in webhook["http_config"]["authorization"]


def test_grafana_dashboard_provider_is_a_file_provider() -> None:
    providers = yaml.safe_load(
        (
            PROMETHEUS_DIR / "grafana" / "provisioning" / "dashboards" / "drift-retrain-bridge.yml"
        ).read_text()
    )
    assert providers["providers"][0]["type"] == "file"


def test_dashboard_draws_the_threshold_dashed_from_the_recording_rule() -> None:
    dashboard = json.loads((PROMETHEUS_DIR / "grafana" / "dashboards" / "drift.json").read_text())
    (panel,) = [p for p in dashboard["panels"] if p["title"] == "Drift score per model"]
    assert {t["expr"] for t in panel["targets"]} >= {"drift:threshold"}
    (override,) = panel["fieldConfig"]["overrides"]
    assert override["matcher"]["options"] == "threshold"
    styles = {p["id"]: p["value"] for p in override["properties"]}
    assert styles["custom.lineStyle"]["fill"] == "dash"

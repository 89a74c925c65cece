"""The alerting objects of deploy/kubernetes checked with the real tools: the rules taken out of
the rendered PrometheusRule pass the shipped rule unit tests (`promtool test rules`), and the
Alertmanager configuration the operator makes of the rendered AlertmanagerConfig (its namespace
matcher added) routes ModelDriftHigh to the bridge (`amtool config routes test`)."""

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.kubernetes.generate import DASHBOARD, REPO, RULES_DIR, rule_files
from tests.support.kubernetes import (
    Manifest,
    of_kind,
    one,
    operator_alertmanager_config,
    render,
    services_selected,
)
from tests.support.tools import run_tool

pytestmark = pytest.mark.integration


def write_rule_files(rule: Manifest, directory: Path) -> None:
    """The rendered PrometheusRule's groups, written back into files named as the shipped
    ones (each file gets the groups its source holds), so the shipped unit tests find them."""
    rendered = {group["name"]: group for group in rule["spec"]["groups"]}
    for source in rule_files():
        names = [g["name"] for g in yaml.safe_load(source.read_text())["groups"]]
        groups = [rendered.pop(name) for name in names]
        (directory / source.name).write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    assert not rendered, f"groups from no rule file: {sorted(rendered)}"


def drift_alert(rule: Manifest) -> dict[str, Any]:
    """The ModelDriftHigh rule of a PrometheusRule."""
    (alert,) = [
        r for g in rule["spec"]["groups"] for r in g["rules"] if r.get("alert") == "ModelDriftHigh"
    ]
    assert isinstance(alert, dict)
    return alert


def test_rendered_rules_pass_the_shipped_rule_unit_tests(
    manifests: list[Manifest], tmp_path: Path
) -> None:
    write_rule_files(one(manifests, "PrometheusRule"), tmp_path)
    tests = sorted(RULES_DIR.glob("*.rules.test.yml"))
    assert tests
    for test in tests:
        shutil.copy(test, tmp_path / test.name)
    checked = run_tool("promtool", "check", "rules", *[p.name for p in rule_files()], cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    result = run_tool("promtool", "test", "rules", *[t.name for t in tests], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_fail_on_a_rendered_rule_changed_by_hand(tmp_path: Path) -> None:
    """Not vacuous: a PrometheusRule whose alert fires at the threshold fails them."""
    rule = one(render("base"), "PrometheusRule")
    alert = drift_alert(rule)
    alert["expr"] = alert["expr"].replace("drift_score >", "drift_score >=")
    write_rule_files(rule, tmp_path)
    for test in RULES_DIR.glob("*.rules.test.yml"):
        shutil.copy(test, tmp_path / test.name)
    result = run_tool("promtool", "test", "rules", "drift.rules.test.yml", cwd=tmp_path)
    assert result.returncode != 0


@pytest.fixture
def operator_config(manifests: list[Manifest], tmp_path: Path) -> Path:
    """alertmanager.yml as the operator generates it from the AlertmanagerConfig."""
    path = tmp_path / "alertmanager.yml"
    config = operator_alertmanager_config(one(manifests, "AlertmanagerConfig"))
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    checked = run_tool("amtool", "check-config", path.name, cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    return path


def routed_to(config: Path, labels: dict[str, str]) -> str:
    result = run_tool(
        "amtool",
        "config",
        "routes",
        "test",
        f"--config.file={config.name}",
        *[f"{k}={v}" for k, v in labels.items()],
        cwd=config.parent,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def alert_labels(manifests: list[Manifest]) -> dict[str, str]:
    """The labels ModelDriftHigh carries in the cluster: the rule's, plus those the operator's
    scrape config puts on the exporter's series (namespace, service, job = the Service's name)."""
    alert = drift_alert(one(manifests, "PrometheusRule"))
    monitor = one(manifests, "ServiceMonitor", "drift-exporter")
    (service,) = services_selected(manifests, monitor["spec"]["selector"])
    return {
        "alertname": alert["alert"],
        **alert.get("labels", {}),
        "model": "churn-classifier",
        "namespace": service["metadata"]["namespace"],
        "service": service["metadata"]["name"],
        "job": service["metadata"]["name"],
    }


def test_drift_alerts_from_the_exporter_reach_the_bridge(
    manifests: list[Manifest], operator_config: Path
) -> None:
    config = one(manifests, "AlertmanagerConfig")
    namespace, name = config["metadata"]["namespace"], config["metadata"]["name"]
    receiver = config["spec"]["route"]["receiver"]
    assert routed_to(operator_config, alert_labels(manifests)) == f"{namespace}/{name}/{receiver}"


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"namespace": "elsewhere"}, "the operator's namespace matcher"),
        ({"namespace": ""}, "no namespace label: the matcher needs one"),
        ({"alertname": "DiskFull"}, "another alert"),
    ],
)
def test_other_alerts_do_not_reach_the_bridge(
    manifests: list[Manifest], operator_config: Path, change: dict[str, str], why: str
) -> None:
    labels = {k: v for k, v in {**alert_labels(manifests), **change}.items() if v}
    assert routed_to(operator_config, labels) == "null", why


def test_alertmanager_config_groups_and_times_as_the_shipped_alertmanager_yml() -> None:
    """One routing policy, whether Alertmanager is configured by file or by the operator."""
    shipped = yaml.safe_load((REPO / "prometheus" / "alertmanager.yml").read_text())
    (route,) = [r for r in shipped["route"]["routes"] if r["receiver"] == "drift-bridge"]
    spec = one(render("base"), "AlertmanagerConfig")["spec"]["route"]
    assert spec["groupBy"] == route["group_by"]
    assert spec["groupWait"] == route["group_wait"]
    assert spec["groupInterval"] == route["group_interval"]
    assert spec["repeatInterval"] == route["repeat_interval"]
    matchers = [f'{m["name"]}{m["matchType"]}"{m["value"]}"' for m in spec["matchers"]]
    assert matchers == route["matchers"]


def job_selectors(text: str) -> set[str]:
    """The jobs named in PromQL (``job="..."``) in a rule file or dashboard."""
    return set(re.findall(r'job\s*=\s*\\?"([^"\\]+)', text))


# Jobs the shipped rules name that deploy/kubernetes does not run: each needs a ServiceMonitor of
# the user's that gives it this job label, and the README's Kubernetes section says so.
EXTERNAL_JOBS = {"pushgateway"}


def test_rules_and_dashboard_name_only_jobs_the_service_monitors_scrape(
    manifests: list[Manifest],
) -> None:
    """The operator's job label is the Service's name: a query on another job finds nothing."""
    scraped: set[str] = set()
    for monitor in of_kind(manifests, "ServiceMonitor"):
        scraped |= {
            s["metadata"]["name"] for s in services_selected(manifests, monitor["spec"]["selector"])
        }
    named: set[Any] = set()
    for path in [*rule_files(), DASHBOARD]:
        named |= job_selectors(path.read_text())
    assert named - EXTERNAL_JOBS <= scraped
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Run it on Kubernetes") :]
    for job in EXTERNAL_JOBS & named:
        assert f'job="{job}"' in section, f"the README does not say how to label job {job}"

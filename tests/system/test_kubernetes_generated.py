"""The Kubernetes objects generated from the shipped Prometheus files (deploy/kubernetes/
generate.py): the committed ones are what the generator makes, so a rule or dashboard change
cannot reach Compose users and miss Kubernetes users."""

import json
from pathlib import Path

import pytest
import yaml

from deploy.kubernetes import generate
from tests.support.kubernetes import load_manifests


@pytest.mark.parametrize("path", sorted(generate.generated()), ids=lambda p: p.name)
def test_committed_files_are_what_the_generator_makes(path: Path) -> None:
    assert path.read_text() == generate.generated()[path], (
        f"{path.relative_to(generate.REPO)} is out of date: run `{generate.COMMAND}`"
    )


def test_check_mode_reports_a_stale_file_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "prometheusrule.yaml"
    stale.write_text("# edited by hand\n")
    monkeypatch.setattr(generate, "PROMETHEUS_RULE", stale)
    monkeypatch.setattr(generate, "REPO", tmp_path)
    monkeypatch.setattr(generate, "DASHBOARD_CONFIGMAP", tmp_path / "grafana-dashboard.yaml")
    (tmp_path / "grafana-dashboard.yaml").write_text(generate.dashboard_configmap())
    assert generate.main(["--check"]) == 1
    assert "prometheusrule.yaml is out of date" in capsys.readouterr().err
    assert stale.read_text() == "# edited by hand\n"
    assert generate.main([]) == 0
    assert generate.main(["--check"]) == 0
    assert stale.read_text() == generate.prometheus_rule()


def test_prometheus_rule_holds_every_group_of_every_rule_file() -> None:
    files = generate.rule_files()
    assert [p.name for p in files] == sorted(p.name for p in files)
    assert all(not p.name.endswith(".test.yml") for p in files)
    expected = [g for p in files for g in yaml.safe_load(p.read_text())["groups"]]
    assert expected
    (rule,) = load_manifests(generate.prometheus_rule())
    assert rule["kind"] == "PrometheusRule"
    assert rule["spec"]["groups"] == expected


def test_dashboard_configmap_carries_the_dashboard_unchanged_with_the_sidecar_label() -> None:
    (config_map,) = load_manifests(generate.dashboard_configmap())
    assert config_map["kind"] == "ConfigMap"
    # kube-prometheus-stack's Grafana sidecar loads ConfigMaps with this label (a string).
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    (data,) = config_map["data"].items()
    assert data == ("drift.json", generate.DASHBOARD.read_text())
    assert json.loads(data[1])["uid"] == "drift-retrain-bridge"

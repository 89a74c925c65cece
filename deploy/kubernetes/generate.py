"""Write the Kubernetes objects made from the shipped Prometheus files: the PrometheusRule (from
``prometheus/rules/*.rules.yml``) and the Grafana dashboard ConfigMap (from
``prometheus/grafana/dashboards/drift.json``), so each keeps one source of truth.

    python -m deploy.kubernetes.generate           # rewrite them (make kubernetes-manifests)
    python -m deploy.kubernetes.generate --check   # exit 1 when the committed ones differ
"""

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
KUBERNETES_DIR = REPO / "deploy" / "kubernetes"
MONITORING_DIR = KUBERNETES_DIR / "base" / "monitoring"
RULES_DIR = REPO / "prometheus" / "rules"
DASHBOARD = REPO / "prometheus" / "grafana" / "dashboards" / "drift.json"
PROMETHEUS_RULE = MONITORING_DIR / "prometheusrule.yaml"
DASHBOARD_CONFIGMAP = MONITORING_DIR / "grafana-dashboard.yaml"
COMMAND = "python -m deploy.kubernetes.generate"


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks, so the dashboard stays readable in the ConfigMap."""


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_BlockDumper.add_representer(str, _represent_str)


def _header(source: str) -> str:
    return f"# GENERATED from {source}: edit that, then run\n#   {COMMAND}\n"


def _dump(document: dict[str, Any]) -> str:
    return yaml.dump(document, Dumper=_BlockDumper, sort_keys=False, width=100, allow_unicode=True)


def rule_files() -> list[Path]:
    """The shipped rule files, in name order (their unit tests, ``*.rules.test.yml``, excluded)."""
    return sorted(RULES_DIR.glob("*.rules.yml"))


def prometheus_rule() -> str:
    """The PrometheusRule whose groups are those of every shipped rule file."""
    groups: list[Any] = []
    for path in rule_files():
        groups += yaml.safe_load(path.read_text())["groups"]
    document = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "drift-retrain-bridge"},
        "spec": {"groups": groups},
    }
    return _header("prometheus/rules/*.rules.yml") + _dump(document)


def dashboard_configmap() -> str:
    """The ConfigMap kube-prometheus-stack's Grafana sidecar loads the dashboard from."""
    document = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "drift-retrain-bridge-dashboard",
            # The sidecar's default label (grafana.sidecar.dashboards.label/labelValue).
            "labels": {"grafana_dashboard": "1"},
            # Used when the sidecar's folderAnnotation is set to grafana_folder.
            "annotations": {"grafana_folder": "Model drift"},
        },
        "data": {DASHBOARD.name: DASHBOARD.read_text()},
    }
    return _header("prometheus/grafana/dashboards/drift.json") + _dump(document)


def generated() -> dict[Path, str]:
    """Each generated file and the text it must hold."""
    return {PROMETHEUS_RULE: prometheus_rule(), DASHBOARD_CONFIGMAP: dashboard_configmap()}


def main(argv: list[str] | None = None) -> int:
    """Write the generated files, or with ``--check`` report those that are out of date."""
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 on a change")
    args = parser.parse_args(argv)
    stale = [path for path, text in generated().items() if _read(path) != text]
    for path in stale:
        name = path.relative_to(REPO)
        if args.check:
            print(f"{name} is out of date: run `{COMMAND}`", file=sys.stderr)
        else:
            path.write_text(generated()[path])
            print(f"wrote {name}")
    return 1 if args.check and stale else 0


def _read(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


if __name__ == "__main__":
    sys.exit(main())

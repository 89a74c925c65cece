"""The PromQL in the shipped Grafana dashboard, ready to run against a real Prometheus."""

import json
import re
from pathlib import Path
from typing import Any

from demo.harness.stack import PROMETHEUS_DIR

DASHBOARD = PROMETHEUS_DIR / "grafana" / "dashboards" / "drift.json"

# What Grafana substitutes before a query reaches Prometheus.
_VARIABLES = {"$model": ".+", "$__rate_interval": "1m", "$__interval": "15s"}


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    panels: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return panels


def dashboard_queries(path: Path = DASHBOARD) -> list[tuple[str, str, bool]]:
    """Every (panel title, PromQL, instant?) in the dashboard, variables substituted as Grafana
    would. Instant queries ask for the latest value; the others for a time range."""
    dashboard = json.loads(path.read_text())
    queries = []
    for panel in _panels(dashboard):
        for target in panel.get("targets", []):
            expr = target["expr"]
            for name, value in _VARIABLES.items():
                expr = expr.replace(name, value)
            if "$" in expr:
                raise ValueError(f"panel {panel['title']!r}: unknown variable in {expr!r}")
            queries.append((panel["title"], expr, bool(target.get("instant", False))))
    return queries


def variable_metrics(path: Path = DASHBOARD) -> list[tuple[str, str]]:
    """(metric, label) of every ``label_values(metric, label)`` template variable."""
    dashboard = json.loads(path.read_text())
    found = []
    for variable in dashboard["templating"]["list"]:
        match = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", variable["definition"])
        if match is None:
            raise ValueError(f"variable {variable['name']!r}: unsupported query")
        found.append((match[1], match[2]))
    return found

"""The PromQL in the shipped Grafana dashboard, ready to run against a real Prometheus."""

import json
import re
from pathlib import Path
from typing import Any

from demo.harness.stack import PROMETHEUS_DIR

DASHBOARD = PROMETHEUS_DIR / "grafana" / "dashboards" / "drift.json"

# What Grafana substitutes before a query reaches Prometheus.
_VARIABLES = {
    "$model": ".+",
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "1h",
}

# The dashboard's rows by what they need running: every scorer, `watch`, `simulate`, the bridge.
DRIFT_ROW = "Drift"
REAL_DATA_ROW = "Real data (drift-exporter watch)"
SIMULATION_ROW = "Simulation (drift-exporter simulate)"
BRIDGE_ROW = "Retraining (drift-bridge)"


def _panels(dashboard: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(row title, panel) of every panel, those of collapsed rows included."""
    panels: list[tuple[str, dict[str, Any]]] = []
    row = ""
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            row = panel["title"]
            panels.extend((row, nested) for nested in panel.get("panels", []))
        else:
            panels.append((row, panel))
    return panels


def load_dashboard(path: Path = DASHBOARD) -> dict[str, Any]:
    """The dashboard's JSON."""
    dashboard: dict[str, Any] = json.loads(path.read_text())
    return dashboard


def dashboard_panels(path: Path = DASHBOARD) -> list[tuple[str, dict[str, Any]]]:
    """(row title, panel) of every panel that is not a row."""
    return _panels(load_dashboard(path))


def dashboard_queries(*rows: str, path: Path = DASHBOARD) -> list[tuple[str, str, bool]]:
    """Every (panel title, PromQL, instant?) of the given rows (all rows when none is given),
    variables substituted as Grafana would. Instant queries ask for the latest value; the
    others for a time range."""
    queries = []
    for row, panel in dashboard_panels(path):
        if rows and row not in rows:
            continue
        for target in panel.get("targets", []):
            expr = target["expr"]
            for name, value in _VARIABLES.items():
                expr = expr.replace(name, value)
            if "$" in expr:
                raise ValueError(f"panel {panel['title']!r}: unknown variable in {expr!r}")
            queries.append((panel["title"], expr, bool(target.get("instant", False))))
    return queries


def variable_metrics(path: Path = DASHBOARD) -> list[tuple[str, str]]:
    """(metric, label) of every ``label_values(metric, label)`` query variable."""
    found = []
    for variable in load_dashboard(path)["templating"]["list"]:
        if variable["type"] != "query":
            continue
        definition = variable["query"]
        if isinstance(definition, dict):
            definition = definition["query"]
        match = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", definition)
        if match is None:
            raise ValueError(f"variable {variable['name']!r}: unsupported query")
        found.append((match[1], match[2]))
    return found

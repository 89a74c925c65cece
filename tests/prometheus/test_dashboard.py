"""The Grafana dashboard: generated from Grafana's schema model, importable, and every real-data
query answered by a real Prometheus scraping ``drift-exporter watch``."""

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest
from grafana_foundation_sdk.models.dashboard import Dashboard

from demo.harness.processes import Process, free_port, venv_script, wait_until
from demo.harness.stack import (
    PROMETHEUS_DIR,
    load_yaml,
    prometheus_process,
    prometheus_query,
    render_prometheus,
    render_rules,
    write_yaml,
)
from tests.support.dashboard import (
    DASHBOARD,
    DRIFT_ROW,
    REAL_DATA_ROW,
    SIMULATION_ROW,
    dashboard_panels,
    dashboard_queries,
    load_dashboard,
)

BUILDER = PROMETHEUS_DIR / "grafana" / "build_dashboard.py"


def load_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_dashboard", BUILDER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_shipped_dashboard_is_what_the_builder_writes() -> None:
    """drift.json is generated with grafana-foundation-sdk's builders; never edited by hand."""
    assert DASHBOARD.read_text() == load_builder().render()


def test_the_dashboard_round_trips_through_grafanas_schema_model() -> None:
    data = load_dashboard()
    schema_fields = {k: v for k, v in data.items() if not k.startswith("__")}
    parsed = Dashboard.from_json(schema_fields)
    assert json.loads(json.dumps(parsed.to_json(), default=lambda o: o.to_json())) == schema_fields


def test_every_query_uses_the_datasource_variable_that_an_import_asks_for() -> None:
    data = load_dashboard()
    (needed,) = data["__inputs"]
    assert needed["type"] == "datasource"
    assert needed["pluginId"] == "prometheus"
    variables = {v["name"]: v for v in data["templating"]["list"]}
    datasource = variables["datasource"]
    assert datasource["type"] == "datasource"
    assert datasource["query"] == "prometheus"
    # The import replaces ${DS_PROMETHEUS}; provisioned, Grafana picks a Prometheus datasource.
    assert datasource["current"]["value"] == "${" + needed["name"] + "}"
    ref = {"type": "prometheus", "uid": "${datasource}"}
    assert variables["model"]["datasource"] == ref
    for _, panel in dashboard_panels():
        assert panel["datasource"] == ref, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == ref, panel["title"]
    text = DASHBOARD.read_text()
    assert '"uid": "prometheus"' not in text


def test_the_shipped_datasource_is_not_made_the_default() -> None:
    provisioning = PROMETHEUS_DIR / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
    assert "isDefault" not in provisioning.read_text().split("apiVersion")[1]


def panel(title: str) -> dict[str, Any]:
    (found,) = [p for _, p in dashboard_panels() if p["title"] == title]
    return found


def test_the_bar_gauge_follows_the_threshold_rule_and_hard_codes_none() -> None:
    gauge = panel("Latest drift score, share of the threshold")
    (target,) = gauge["targets"]
    assert target["expr"].endswith("/ scalar(drift:threshold)")
    steps = gauge["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [(s.get("value"), s["color"]) for s in steps] == [(None, "green"), (1, "red")]
    for value in ("0.15", "0.2", "0.5"):
        assert value not in json.dumps(gauge)


def test_pending_and_firing_look_different() -> None:
    state = panel("Drift alert state")
    (mapping,) = state["fieldConfig"]["defaults"]["mappings"]
    shown = {value: (o["text"], o["color"]) for value, o in mapping["options"].items()}
    assert shown == {"0": ("ok", "green"), "1": ("pending", "orange"), "2": ("firing", "red")}
    (target,) = state["targets"]
    assert 'alertstate="firing"' in target["expr"]
    assert 'alertstate="pending"' in target["expr"]


def test_counters_of_the_bridge_count_over_the_dashboards_range() -> None:
    for title in ("Retrainings dispatched", "Duplicates suppressed"):
        (target,) = panel(title)["targets"]
        assert "[$__range]" in target["expr"]
        assert target["instant"] is True


def test_simulator_panels_sit_in_their_own_collapsed_row() -> None:
    rows = {p["title"]: p for p in load_dashboard()["panels"] if p["type"] == "row"}
    simulation = rows[SIMULATION_ROW]
    assert simulation["collapsed"] is True
    simulator_only = ("drift_days_since_reference", "drift_simulation_", "drift_retrainings_")
    for row, found in dashboard_panels():
        exprs = " ".join(t["expr"] for t in found["targets"])
        assert (row == SIMULATION_ROW) == any(m in exprs for m in simulator_only), found["title"]


rng = np.random.default_rng(29)


def frame(rows: int, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(
        {"age": rng.normal(40 + shift, 10, rows), "city": rng.choice(["lyon", "nice"], rows)}
    )


def watch_process(work: Path, model: str, current: Path, port: int) -> Process:
    return Process(
        f"watch-{model}",
        [
            venv_script("drift-exporter"),
            "watch",
            "--reference",
            str(work / "reference.csv"),
            "--current",
            str(current),
            "--model",
            model,
            "--min-rows=100",
            "--interval=0.5s",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        work,
    )


@pytest.mark.integration
def test_every_real_data_panel_has_data_with_watch_running(tmp_path: Path) -> None:
    """One model drifted and refusing its latest file, one without data: each panel shows."""
    frame(2000).to_csv(tmp_path / "reference.csv", index=False)
    drifting, empty = tmp_path / "churn", tmp_path / "fraud"
    drifting.mkdir()
    empty.mkdir()
    frame(500, shift=15).to_csv(drifting / "0001.csv", index=False)
    churn_port, fraud_port, prom_port = free_port(), free_port(), free_port()
    targets = f"127.0.0.1:{churn_port}"
    prom_config = render_prometheus(
        tmp_path, {"drift-exporter": targets}, [], render_rules(tmp_path, for_="1s")
    )
    config = load_yaml(prom_config)
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "drift-exporter"]
    job["static_configs"][0]["targets"].append(f"127.0.0.1:{fraud_port}")
    write_yaml(prom_config, config)
    with (
        watch_process(tmp_path, "churn", drifting, churn_port) as churn,
        watch_process(tmp_path, "fraud", empty, fraud_port) as fraud,
        prometheus_process(prom_config, tmp_path, prom_port) as prometheus,
    ):
        churn.wait_http(f"http://127.0.0.1:{churn_port}/-/healthy")
        fraud.wait_http(f"http://127.0.0.1:{fraud_port}/-/healthy")
        prometheus.wait_http(f"http://127.0.0.1:{prom_port}/-/ready")
        wait_until(
            lambda: prometheus_query(prom_port, 'ALERTS{alertstate="firing"}') or None,
            60,
            "ModelDriftHigh firing for churn",
            interval=0.5,
        )
        (drifting / "0002.csv").write_text("height\n1\n")  # refused: no age, no city
        wait_until(
            lambda: prometheus_query(prom_port, "drift_input_failing == 1") or None,
            30,
            "the refused input in Prometheus",
            interval=0.5,
        )
        for title, expr, instant in dashboard_queries(DRIFT_ROW, REAL_DATA_ROW):
            found = prometheus_query(prom_port, expr, over=None if instant else 60)
            assert found, f"panel {title!r}: no data for {expr}"
        (state,) = [q for t, q, _ in dashboard_queries(DRIFT_ROW) if t == "Drift alert state"]
        models = {s["metric"]["model"]: s["value"][1] for s in prometheus_query(prom_port, state)}
        assert models == {"churn": "2"}  # fraud has no score, so no state either

"""``make demo``'s loop, shortened: it closes, and everything it started is gone afterwards."""

import io
import os
from pathlib import Path

import pytest
import requests

from demo.harness.loop import DemoResult, DemoSettings, Stack, run_demo
from demo.harness.stack import prometheus_query
from tests.support.dashboard import (
    BRIDGE_ROW,
    DRIFT_ROW,
    SIMULATION_ROW,
    dashboard_queries,
    variable_metrics,
)

pytestmark = pytest.mark.integration

FAST = DemoSettings(
    step_seconds=1.0,
    start_day=28,
    alert_for="2s",
    group_wait="1s",
    group_interval="2s",
    training_seconds=0.5,
    timeout=90,
)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_demo_loop_closes_with_one_retraining_and_stops_everything(tmp_path: Path) -> None:
    out = io.StringIO()
    checked: list[str] = []

    def while_running(stack: Stack, result: DemoResult) -> None:
        port = int(stack.urls["prometheus"].rsplit(":", 1)[1])
        # Every query of the Grafana dashboard for the simulation and the bridge (the real-data
        # row is checked with `watch` in tests/prometheus/test_dashboard.py).
        for title, expr, instant in dashboard_queries(DRIFT_ROW, SIMULATION_ROW, BRIDGE_ROW):
            found = prometheus_query(port, expr, over=None if instant else 120)
            assert found, f"panel {title!r}: no data for {expr}"
            checked.append(title)
        for metric, label in variable_metrics():
            values = requests.get(
                f"{stack.urls['prometheus']}/api/v1/label/{label}/values",
                params={"match[]": metric},
                timeout=5,
            ).json()["data"]
            assert values
        # The dispatch's audit trail: one episode, dispatched once, resolved.
        token = (stack.work_dir / "alertmanager.token").read_text().strip()
        listed = requests.get(
            f"{stack.urls['bridge']}/api/dispatches",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        ).json()["dispatches"]
        assert [(d["labels"]["model"], d["state"]) for d in listed] == [
            ("churn-classifier", "succeeded")
        ]

    result = run_demo(FAST, out, on_closed=while_running, work_dir=tmp_path)
    text = out.getvalue()
    assert result.closed, f"{result.reason}\n{text}"
    assert result.last is not None
    assert len(result.last.dispatches_for("churn-classifier")) == 1
    assert result.last.dispatches_for("fraud-detector") == []
    assert result.trail is not None
    assert result.trail["episode"]["state"] == "resolved"
    decisions = [d["decision"] for d in result.trail["decisions"]]
    assert decisions[0] == "new_episode"
    assert "resolved" in decisions
    # The hops happened in order.
    order = [
        result.milestones[m]
        for m in (
            "drift above threshold",
            "alert firing",
            "webhook recorded",
            "model retrained",
            "resolution recorded",
        )
    ]
    assert order == sorted(order)
    assert "The loop closed." in text
    assert "dispatches for fraud-detector: 0" in text
    assert checked
    # Nothing it started is left running.
    assert result.processes
    assert not [p.name for p in result.processes if p.running() or alive(p.pid)]

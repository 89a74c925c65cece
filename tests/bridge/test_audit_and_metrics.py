"""The audit API, /metrics and the health endpoints: what an operator reads."""

import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from tests.support.bridge import ConfigWriter, Running, auth_headers
from tests.support.fakes.webhook import FakeWebhook
from tests.support.fixtures import body

SECRET = "SUPERSECRET-jenkins-token-42"


def metric_values(client: FlaskClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = client.get("/metrics").get_data(as_text=True)
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_series_exist_at_zero_before_the_first_notification(client: FlaskClient) -> None:
    values = metric_values(client)
    assert values[("drift_bridge_notifications_total", (("outcome", "accepted"),))] == 0
    assert values[("drift_bridge_alerts_total", (("decision", "duplicate"),))] == 0
    assert (
        values[("drift_bridge_dispatches_total", (("outcome", "succeeded"), ("target", "hook")))]
        == 0
    )
    assert values[("drift_bridge_outbox_pending", ())] == 0
    assert values[("drift_bridge_store_up", ())] == 1
    assert values[("drift_bridge_dispatch_latency_seconds_count", (("target", "hook"),))] == 0
    attempts = (("outcome", "success"), ("reason", "none"), ("target", "hook"))
    assert values[("drift_bridge_dispatch_attempts_total", attempts)] == 0


def test_metrics_count_what_the_audit_records(client: FlaskClient) -> None:
    client.post("/alerts", json=body("firing-grouped"), headers=auth_headers())
    client.post("/alerts", json=body("firing-single-bearer"), headers=auth_headers())
    client.post("/alerts", json=body("resolved-single-bearer"), headers=auth_headers())
    client.post("/alerts", json=body("firing-grouped"))  # no credentials
    values = metric_values(client)
    assert values[("drift_bridge_notifications_total", (("outcome", "accepted"),))] == 3
    assert values[("drift_bridge_notifications_total", (("outcome", "unauthorized"),))] == 1
    assert values[("drift_bridge_alerts_total", (("decision", "new_episode"),))] == 2
    assert values[("drift_bridge_alerts_total", (("decision", "duplicate"),))] == 1
    assert values[("drift_bridge_alerts_total", (("decision", "resolved"),))] == 1
    assert (
        values[("drift_bridge_dispatches_total", (("outcome", "created"), ("target", "hook")))] == 2
    )
    assert values[("drift_bridge_outbox_pending", ())] == 2
    assert values[("drift_bridge_outbox_oldest_pending_age_seconds", ())] >= 0


def test_the_audit_lists_and_filters_dispatches(client: FlaskClient) -> None:
    client.post("/alerts", json=body("firing-grouped"), headers=auth_headers())
    listed = client.get("/api/dispatches", headers=auth_headers()).get_json()["dispatches"]
    assert {d["labels"]["model"] for d in listed} == {"churn-classifier", "fraud-detector"}
    assert all(d["created_at"].endswith("Z") for d in listed)
    pending = client.get("/api/dispatches?state=pending&limit=1", headers=auth_headers())
    assert len(pending.get_json()["dispatches"]) == 1
    none = client.get("/api/dispatches?state=dead", headers=auth_headers())
    assert none.get_json()["dispatches"] == []
    bad = client.get("/api/dispatches?state=lost", headers=auth_headers())
    assert bad.status_code == 400
    assert "unknown state 'lost'" in bad.get_json()["error"]
    assert client.get("/api/dispatches").status_code == 401
    missing = client.get("/api/dispatches/drb-nope", headers=auth_headers())
    assert missing.status_code == 404
    assert missing.get_json()["error"] == "no dispatch 'drb-nope'"


def test_one_dispatch_shows_alert_decision_and_request(client: FlaskClient) -> None:
    response = client.post("/alerts", json=body("firing-single-bearer"), headers=auth_headers())
    dispatch_id = response.get_json()["alerts"][0]["dispatch_id"]
    trail = client.get(f"/api/dispatches/{dispatch_id}", headers=auth_headers()).get_json()
    assert trail["alert"]["labels"]["model"] == "fraud-detector"
    assert trail["alert"]["fingerprint"] == "b78fc0eb9a264175"
    assert trail["decisions"][0]["decision"] == "new_episode"
    assert trail["request"]["json"]["parameters"] == {
        "MODEL": "fraud-detector",
        "SUMMARY": "Data drift for fraud-detector is 0.270 (threshold 0.2)",
    }
    assert trail["request"]["json"]["dispatch_id"] == dispatch_id
    assert trail["episode"]["state"] == "firing"


def test_secrets_stay_out_of_the_audit_the_store_and_the_logs(
    write_config: ConfigWriter,
    config_data: dict[str, Any],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    (tmp_path / "hook.token").write_text(SECRET)
    caplog.set_level(logging.DEBUG)
    with FakeWebhook() as hook:
        hook.fail_next(1, 503)  # one failed attempt, one retry: both recorded
        config_data["targets"]["hook"]["url"] = f"{hook.url}/retrain"
        config_data["targets"]["hook"]["bearer_token_file"] = str(tmp_path / "hook.token")
        config = write_config(config_data)
        with Running(config) as bridge:
            # One alert, so the injected 503 hits the dispatch whose trail is checked (a grouped
            # payload makes two dispatches racing for it).
            dispatch_id = bridge.fire("firing-single-bearer")
            bridge.wait_state(dispatch_id, "succeeded")
            trail = bridge.client.get(f"/api/dispatches/{dispatch_id}", headers=auth_headers())
            listing = bridge.client.get("/api/dispatches", headers=auth_headers())
            metrics = bridge.client.get("/metrics")
        # It was sent with the secret...
        assert hook.received[-1].header("Authorization") == f"Bearer {SECRET}"
    # ...which appears nowhere else.
    for text in (
        trail.get_data(as_text=True),
        listing.get_data(as_text=True),
        metrics.get_data(as_text=True),
        caplog.text,
    ):
        assert SECRET not in text
        assert "s3cret-token" not in text
    assert [a["outcome"] for a in trail.get_json()["attempts"]] == ["retry", "success"]
    with sqlite3.connect(config.store_path) as conn:
        dump = "\n".join(conn.iterdump())
    assert SECRET not in dump
    assert "s3cret-token" not in dump


def test_readiness_needs_the_store_and_a_running_dispatcher(client: FlaskClient) -> None:
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503  # this app has no dispatcher
    assert ready.get_json()["checks"] == {"store": "ok", "dispatcher": "not running"}

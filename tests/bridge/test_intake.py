"""POST /alerts: one dispatch per episode, every decision recorded before the 2xx."""

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from bridge.config import BridgeConfig
from bridge.store import SQLiteStore
from bridge.store.records import DispatchSummary
from tests.support.bridge import ConfigWriter, auth_headers
from tests.support.fixtures import body, captured


def post(client: FlaskClient, payload: Any, **headers: str) -> Any:
    return client.post("/alerts", json=payload, headers={**auth_headers(), **headers})


def dispatches(store: SQLiteStore, state: str | None = None) -> list[DispatchSummary]:
    return store.list_dispatches(state, None, 500, 0)


def decisions(response: Any) -> list[str]:
    return [alert["decision"] for alert in response.get_json()["alerts"]]


def test_first_firing_notification_creates_one_pending_dispatch(
    client: FlaskClient, store: SQLiteStore
) -> None:
    response = post(client, body("firing-single-bearer"))
    assert response.status_code == 200
    (alert,) = response.get_json()["alerts"]
    assert alert["decision"] == "new_episode"
    assert alert["route"] == "retrain"
    (dispatch,) = dispatches(store)
    assert dispatch.id == alert["dispatch_id"]
    assert dispatch.state == "pending"
    assert dispatch.labels["model"] == "fraud-detector"
    assert dispatch.starts_at == "2026-11-25T08:28:11.022000000Z"


def test_resends_and_repeats_are_recorded_but_dispatch_nothing(
    client: FlaskClient, store: SQLiteStore
) -> None:
    first = post(client, body("firing-single-bearer")).get_json()["alerts"][0]["dispatch_id"]
    for _ in range(3):
        response = post(client, body("firing-single-bearer"))
        assert response.status_code == 200
        (alert,) = response.get_json()["alerts"]
        assert alert["decision"] == "duplicate"
        assert alert["dispatch_id"] == first
    assert len(dispatches(store)) == 1
    trail = store.get_dispatch(first)
    assert trail is not None
    assert [d.decision for d in trail.decisions] == ["new_episode"] + ["duplicate"] * 3


def test_each_alert_of_a_grouped_notification_is_its_own_episode(
    client: FlaskClient, store: SQLiteStore
) -> None:
    assert decisions(post(client, body("firing-grouped"))) == ["new_episode", "new_episode"]
    # The same episodes arriving through another group (another receiver or group_by): duplicates.
    assert decisions(post(client, body("firing-single-bearer-2"))) == ["duplicate"]
    assert decisions(post(client, body("firing-single-bearer"))) == ["duplicate"]
    models = sorted(d.labels["model"] for d in dispatches(store))
    assert models == ["churn-classifier", "fraud-detector"]


def test_resolution_closes_the_episode_and_sends_nothing_by_default(
    client: FlaskClient, store: SQLiteStore
) -> None:
    dispatch_id = post(client, body("firing-single-bearer")).get_json()["alerts"][0]["dispatch_id"]
    assert decisions(post(client, body("resolved-single-bearer"))) == ["resolved"]
    assert decisions(post(client, body("resolved-single-bearer"))) == ["resolved_duplicate"]
    # A late firing resend of the closed episode (an HA peer catching up) stays a duplicate.
    assert decisions(post(client, body("firing-single-bearer"))) == ["duplicate"]
    trail = store.get_dispatch(dispatch_id)
    assert trail is not None
    assert trail.episode.state == "resolved"
    assert trail.episode.ends_at == "2026-11-25T08:28:29.022000000Z"
    assert len(dispatches(store)) == 1


def test_resolution_of_an_unseen_episode_is_recorded_without_dispatch(
    client: FlaskClient, store: SQLiteStore
) -> None:
    assert decisions(post(client, body("resolved-single-bearer"))) == ["resolved_unknown"]
    assert decisions(post(client, body("firing-single-bearer"))) == ["duplicate"]
    assert dispatches(store) == []


def refire(payload: dict[str, Any], starts_at: str) -> dict[str, Any]:
    for alert in payload["alerts"]:
        alert["startsAt"] = starts_at
    return payload


def test_a_new_episode_after_resolution_dispatches_again(
    client: FlaskClient, store: SQLiteStore
) -> None:
    post(client, body("firing-single-bearer"))
    post(client, body("resolved-single-bearer"))
    again = post(client, refire(body("firing-single-bearer"), "2026-11-25T10:00:00Z"))
    assert decisions(again) == ["new_episode"]
    assert len(dispatches(store)) == 2


def test_a_new_episode_inside_the_cooldown_is_skipped_with_the_reason(
    write_config: ConfigWriter, config_data: dict[str, Any]
) -> None:
    config_data["routes"][0]["cooldown"] = "6h"
    from bridge.web.app import create_app

    config = write_config(config_data)
    store = SQLiteStore(config.store_path)
    client = create_app(config, store).test_client()
    first = post(client, body("firing-single-bearer")).get_json()["alerts"][0]["dispatch_id"]
    post(client, body("resolved-single-bearer"))
    response = post(client, refire(body("firing-single-bearer"), "2026-11-25T10:00:00Z"))
    (alert,) = response.get_json()["alerts"]
    assert alert["decision"] == "cooldown_skipped"
    assert "cooldown of 21600s" in alert["reason"]
    assert first in alert["reason"]
    assert '"model":"fraud-detector"' in alert["reason"]
    # Another model is not held back by fraud-detector's cooldown.
    assert decisions(post(client, body("firing-single-bearer-2"))) == ["new_episode"]
    assert len(dispatches(store)) == 2


def test_resolve_dispatch_is_opt_in(
    write_config: ConfigWriter, config_data: dict[str, Any]
) -> None:
    from bridge.web.app import create_app

    config_data["routes"][0]["on_resolve"] = "dispatch"
    config = write_config(config_data)
    store = SQLiteStore(config.store_path)
    client = create_app(config, store).test_client()
    post(client, body("firing-single-bearer"))
    post(client, body("resolved-single-bearer"))
    post(client, body("resolved-single-bearer"))
    kinds = sorted(d.kind for d in dispatches(store))
    assert kinds == ["firing", "resolved"]


@pytest.mark.parametrize("where", ["global", "route"])
def test_dry_run_records_the_request_and_sends_nothing(
    write_config: ConfigWriter, config_data: dict[str, Any], where: str
) -> None:
    from bridge.web.app import create_app

    if where == "global":
        config_data["dry_run"] = True
    else:
        config_data["routes"][0]["dry_run"] = True
    config = write_config(config_data)
    store = SQLiteStore(config.store_path)
    client = create_app(config, store).test_client()
    dispatch_id = post(client, body("firing-single-bearer")).get_json()["alerts"][0]["dispatch_id"]
    trail = store.get_dispatch(dispatch_id)
    assert trail is not None
    assert trail.summary.state == "dry_run"
    assert trail.request is not None
    assert trail.request["json"]["parameters"]["MODEL"] == "fraud-detector"
    assert store.claim_due(trail.summary.created_at + 60, "w", 10, 10) == []


def test_a_missing_template_variable_dead_letters_that_dispatch_with_the_reason(
    write_config: ConfigWriter, config_data: dict[str, Any]
) -> None:
    from bridge.web.app import create_app

    config_data["routes"][0]["parameters"]["TEAM"] = "{{ labels.team }}"
    config = write_config(config_data)
    store = SQLiteStore(config.store_path)
    client = create_app(config, store).test_client()
    response = post(client, body("firing-grouped"))
    assert response.status_code == 200  # recorded: retrying the webhook cannot fix a template
    (dead, _) = dispatches(store, "dead")
    assert dead.last_error is not None
    assert "routes[0].parameters.TEAM" in dead.last_error
    assert "has no attribute 'team'" in dead.last_error
    assert dead.last_reason == "invalid_request"


def test_alerts_no_route_matches_are_recorded(client: FlaskClient, store: SQLiteStore) -> None:
    payload = body("firing-single-bearer")
    payload["alerts"][0]["labels"]["alertname"] = "DiskFull"
    assert decisions(post(client, payload)) == ["no_route"]
    assert dispatches(store) == []


def test_truncated_notifications_are_counted(client: FlaskClient, store: SQLiteStore) -> None:
    request = captured("firing-truncated-basic-auth")
    post(client, request["body"])
    counters = {name: value for name, labels, value in store.counters() if not labels}
    assert counters["drift_bridge_truncated_alerts_total"] == 1


def test_the_raw_notification_is_kept_for_the_audit(
    client: FlaskClient, config: BridgeConfig
) -> None:
    post(client, body("firing-grouped"), **{"User-Agent": "Alertmanager/0.25.0"})
    with sqlite3.connect(config.store_path) as conn:
        payload, agent = conn.execute("SELECT payload, user_agent FROM notifications").fetchone()
    assert json.loads(payload) == body("firing-grouped")
    assert agent == "Alertmanager/0.25.0"


# --- Bad requests: 4xx naming what is wrong, and nothing recorded ----------------------------


def test_missing_or_wrong_credentials_get_401_with_a_challenge(client: FlaskClient) -> None:
    missing = client.post("/alerts", json=body("firing-grouped"))
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="drift-bridge"'
    assert "missing Authorization header" in missing.get_json()["error"]
    wrong = client.post(
        "/alerts", json=body("firing-grouped"), headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401
    assert wrong.get_json()["error"] == "unauthorized: invalid bearer token"
    basic = client.post(
        "/alerts", json=body("firing-grouped"), headers={"Authorization": "Basic eDp5"}
    )
    assert basic.status_code == 401


def test_basic_auth_as_alertmanager_sends_it(
    write_config: ConfigWriter, config_data: dict[str, Any], tmp_path: Path
) -> None:
    from bridge.web.app import create_app

    (tmp_path / "password").write_text("pa55\n")
    config_data["auth"] = {
        "type": "basic",
        "username": "alertmanager",
        "password_file": str(tmp_path / "password"),
    }
    config = write_config(config_data)
    client = create_app(config, SQLiteStore(config.store_path)).test_client()
    request = captured("firing-truncated-basic-auth")
    ok = client.post("/alerts", json=request["body"], headers=request["headers"])
    assert ok.status_code == 200
    bad = client.post("/alerts", json=request["body"], headers=auth_headers())
    assert bad.status_code == 401
    assert bad.headers["WWW-Authenticate"] == 'Basic realm="drift-bridge"'


def test_a_rotated_token_file_takes_effect_within_a_second_without_restart(
    client: FlaskClient, token_file: Path
) -> None:
    assert post(client, body("firing-grouped")).status_code == 200
    token_file.write_text("rotated\n")
    time.sleep(1.1)
    assert post(client, body("firing-grouped")).status_code == 401
    ok = client.post(
        "/alerts", json=body("firing-grouped"), headers={"Authorization": "Bearer rotated"}
    )
    assert ok.status_code == 200


@pytest.mark.parametrize(
    ("data", "content_type", "status", "message"),
    [
        (b"{}", "text/plain", 415, "expected Content-Type application/json, got text/plain"),
        (b"{not json", "application/json", 400, "body is not valid JSON"),
        ('{"version": "4"}'.encode("utf-16"), "application/json", 400, "body is not UTF-8"),
        (b"[" * 100_000, "application/json", 400, "body is not a webhook: JSON nested too deeply"),
        (b"[]", "application/json", 400, "invalid Alertmanager payload: expected a JSON object"),
        (
            b'{"version": "4", "status": "firing", "receiver": "x", "alerts": [{}]}',
            "application/json",
            400,
            "invalid Alertmanager payload: alerts[0].fingerprint: is required",
        ),
    ],
)
def test_malformed_webhooks_get_a_4xx_naming_the_problem(
    client: FlaskClient,
    store: SQLiteStore,
    data: bytes,
    content_type: str,
    status: int,
    message: str,
) -> None:
    response = client.post("/alerts", data=data, content_type=content_type, headers=auth_headers())
    assert response.status_code == status
    assert response.get_json()["error"].startswith(message)
    assert dispatches(store) == []
    invalid = {
        labels.get("outcome"): value
        for name, labels, value in store.counters()
        if name == "drift_bridge_notifications_total"
    }
    assert invalid == {"invalid": 1}


def test_bodies_over_the_limit_get_413(
    write_config: ConfigWriter, config_data: dict[str, Any]
) -> None:
    from bridge.web.app import create_app

    config_data["max_body_bytes"] = 2048
    config = write_config(config_data)
    store = SQLiteStore(config.store_path)
    client = create_app(config, store).test_client()
    payload = body("firing-grouped")
    payload["alerts"][0]["annotations"]["description"] = "x" * 4096
    response = post(client, payload)
    assert response.status_code == 413
    assert "limit of 2048 bytes (max_body_bytes)" in response.get_json()["error"]
    # Counted as a refused webhook.
    counted = {
        labels["outcome"]: value
        for name, labels, value in store.counters()
        if name == "drift_bridge_notifications_total"
    }
    assert counted == {"too_large": 1}


def test_a_store_that_cannot_write_answers_503_so_alertmanager_retries(
    write_config: ConfigWriter, config_data: dict[str, Any]
) -> None:
    from bridge.web.app import create_app

    config = write_config(config_data)
    store = SQLiteStore(config.store_path, busy_timeout=0.2)
    client = create_app(config, store).test_client()
    blocker = sqlite3.connect(config.store_path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        response = post(client, body("firing-grouped"))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert response.status_code == 503
    assert "retry later" in response.get_json()["error"]
    assert dispatches(store) == []
    # Alertmanager's retry then succeeds and dispatches exactly once.
    assert decisions(post(client, body("firing-grouped"))) == ["new_episode", "new_episode"]

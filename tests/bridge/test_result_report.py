"""``POST /api/dispatches/<id>/result``: jobs report how they ended, with the model version."""

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.support.bridge import auth_headers
from tests.support.fixtures import body


def dispatched(client: FlaskClient) -> str:
    """Fire an alert (the webhook target, no dispatcher) and return its dispatch id."""
    answer = client.post("/alerts", json=body("firing-single-bearer"), headers=auth_headers())
    dispatch_id: str = answer.get_json()["alerts"][0]["dispatch_id"]
    return dispatch_id


def report(client: FlaskClient, dispatch_id: str, payload: Any, **headers: str) -> Any:
    """POST a result."""
    return client.post(
        f"/api/dispatches/{dispatch_id}/result",
        json=payload,
        headers=headers if headers else auth_headers(),
    )


def test_a_reported_result_completes_the_run_with_the_model_version(client: FlaskClient) -> None:
    dispatch_id = dispatched(client)
    payload = {"result": "succeeded", "model_version": "fraud-detector:42", "url": "https://ci/1"}

    answer = report(client, dispatch_id, payload)
    trail = client.get(f"/api/dispatches/{dispatch_id}", headers=auth_headers()).get_json()
    metrics = client.get("/metrics").get_data(as_text=True)

    assert answer.status_code == 200
    assert answer.get_json()["model_version"] == "fraud-detector:42"
    run = trail["run"]
    assert (run["state"], run["result"]) == ("completed", "succeeded")
    assert (run["model_version"], run["reported_url"]) == ("fraud-detector:42", "https://ci/1")
    assert (
        'drift_bridge_retrainings_total{result="succeeded",route="retrain",target="hook"} 1.0'
        in metrics
    )


def test_the_same_report_twice_counts_once(client: FlaskClient) -> None:
    dispatch_id = dispatched(client)
    payload = {"result": "failed"}

    first = report(client, dispatch_id, payload)
    second = report(client, dispatch_id, payload)
    metrics = client.get("/metrics").get_data(as_text=True)

    assert (first.status_code, second.status_code) == (200, 200)
    assert first.get_json() == second.get_json()
    assert (
        'drift_bridge_retrainings_total{result="failed",route="retrain",target="hook"} 1.0'
        in metrics
    )
    assert 'drift_bridge_episodes_total{outcome="retraining_failed",route="retrain"} 1.0' in metrics


def test_a_late_report_keeps_the_result_and_adds_the_model_version(client: FlaskClient) -> None:
    dispatch_id = dispatched(client)
    report(client, dispatch_id, {"result": "succeeded"})

    later = report(client, dispatch_id, {"result": "failed", "model_version": "v7"})

    assert later.get_json()["result"] == "succeeded"
    assert later.get_json()["model_version"] == "v7"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "expected a JSON object"),
        ({}, "'result' must be one of succeeded, failed, cancelled, timed_out"),
        ({"result": "SUCCESS"}, "'result' must be one of"),
        ({"result": "failed", "model_version": 3}, "'model_version' must be a string"),
        ({"result": "failed", "extra": 1}, "unknown key(s) extra"),
    ],
)
def test_a_bad_report_is_400_naming_the_key(
    client: FlaskClient, payload: Any, message: str
) -> None:
    answer = report(client, dispatched(client), payload)

    assert answer.status_code == 400
    assert message in answer.get_data(as_text=True)


def test_an_unknown_dispatch_is_404(client: FlaskClient) -> None:
    assert report(client, "drb-nope", {"result": "failed"}).status_code == 404


def test_a_report_needs_the_api_credentials(client: FlaskClient) -> None:
    dispatch_id = dispatched(client)

    answer = report(client, dispatch_id, {"result": "failed"}, Authorization="Bearer wrong")

    assert answer.status_code == 401

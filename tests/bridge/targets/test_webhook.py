"""The webhook target: JSON body, headers, auth, and URL templates confined to the path."""

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import requests

from bridge.targets import DispatchError, FailureReason, Target
from tests.support.fakes.webhook import FakeWebhook
from tests.support.targets import make_job, stored, target_from


def webhook_target(fake: FakeWebhook, **settings: Any) -> Target:
    """A webhook target posting to ``{fake}/hooks/retrain`` unless ``url`` is given."""
    return target_from(
        {"type": "webhook", "url": f"{fake.url}/hooks/retrain", "timeout": "2s", **settings}
    )


def test_body_describes_the_dispatch_and_the_alert(webhook: FakeWebhook) -> None:
    target = webhook_target(webhook)

    result = target.send(target.prepare(make_job({"MODEL": "churn"}, dispatch_id="drb-1")))

    [received] = webhook.received
    assert received.method == "POST"
    assert received.path == "/hooks/retrain"
    assert received.header("Content-Type") == "application/json"
    assert received.header("X-Drift-Bridge-Dispatch-Id") == "drb-1"
    assert received.json == {
        "dispatch_id": "drb-1",
        "route": "drift",
        "parameters": {"MODEL": "churn"},
        "alert": {
            "status": "firing",
            "labels": {"alertname": "ModelDriftHigh", "model": "churn", "team": "ml"},
            "annotations": {"summary": "Drift above 0.25 for churn", "drift_score": "0.31"},
            "startsAt": "2026-11-25T09:00:00.123456789Z",
            "endsAt": "",
            "fingerprint": "a1b2c3d4e5f60718",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=drift_score+%3E+0.25",
        },
    }
    assert result.status == 200
    assert json.loads(result.details["response"]) == {"accepted": True}


def test_method_and_static_headers_are_configurable(webhook: FakeWebhook) -> None:
    target = webhook_target(webhook, method="PUT", headers={"X-Team": "ml-platform"})

    target.send(target.prepare(make_job()))

    assert webhook.received[0].method == "PUT"
    assert webhook.received[0].header("X-Team") == "ml-platform"


def test_bearer_token_is_sent_but_not_in_the_request(
    webhook: FakeWebhook, secrets_dir: Path
) -> None:
    target = webhook_target(webhook, bearer_token_file=str(secrets_dir / "webhook-token"))

    request = target.prepare(make_job())
    target.send(request)

    assert webhook.received[0].header("Authorization") == "Bearer webhook-bearer-secret"
    assert "webhook-bearer-secret" not in json.dumps(request)
    assert request["auth"] == "bearer token"


def test_basic_auth_is_sent_but_not_in_the_request(webhook: FakeWebhook, secrets_dir: Path) -> None:
    target = webhook_target(
        webhook,
        basic_auth={
            "username": "airflow",
            "password_file": str(secrets_dir / "webhook-password"),
        },
    )

    request = target.prepare(make_job())
    target.send(request)

    expected = base64.b64encode(b"airflow:webhook-basic-secret").decode()
    assert webhook.received[0].header("Authorization") == f"Basic {expected}"
    assert "webhook-basic-secret" not in json.dumps(request)


def test_password_from_an_environment_variable(
    webhook: FakeWebhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_PASSWORD", "from-env")
    target = webhook_target(
        webhook, basic_auth={"username": "airflow", "password_env": "AIRFLOW_PASSWORD"}
    )

    target.send(target.prepare(make_job()))

    expected = base64.b64encode(b"airflow:from-env").decode()
    assert webhook.received[0].header("Authorization") == f"Basic {expected}"


def test_templated_path_segments_are_url_encoded(webhook: FakeWebhook) -> None:
    target = webhook_target(
        webhook, url=f"{webhook.url}/api/v1/dags/retrain_{{{{ labels.model }}}}/dagRuns?x=1"
    )

    target.send(target.prepare(make_job(model="churn/../admin?y=2")))

    assert webhook.received[0].path == "/api/v1/dags/retrain_churn%2F..%2Fadmin%3Fy%3D2/dagRuns"
    assert webhook.received[0].query == {"x": "1"}


def test_literal_path_is_sent_as_written(webhook: FakeWebhook) -> None:
    target = webhook_target(webhook, url=f"{webhook.url}/hooks/retrain%20now/")

    target.send(target.prepare(make_job()))

    assert webhook.received[0].path == "/hooks/retrain%20now/"


def test_error_keeps_the_endpoints_message(webhook: FakeWebhook) -> None:
    webhook.fail_next(1, 400, body='{"message": "dag retrain_churn is paused"}')
    target = webhook_target(webhook)

    with pytest.raises(DispatchError) as caught:
        target.send(target.prepare(make_job()))

    assert caught.value.reason == FailureReason.CLIENT_ERROR
    assert "dag retrain_churn is paused" in caught.value.message


def test_stored_request_is_sent_after_a_restart(webhook: FakeWebhook) -> None:
    request = stored(webhook_target(webhook).prepare(make_job(dispatch_id="drb-6")))

    webhook_target(webhook).send(request)

    assert webhook.received[0].json["dispatch_id"] == "drb-6"


@pytest.mark.parametrize(
    ("settings", "verify"),
    [
        ({"tls_verify": False}, False),
        ({"ca_file": "/etc/ssl/private-ca.pem"}, "/etc/ssl/private-ca.pem"),
    ],
)
def test_tls_settings_win_over_the_environments_ca_bundle(
    webhook: FakeWebhook,
    monkeypatch: pytest.MonkeyPatch,
    settings: dict[str, Any],
    verify: bool | str,
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    seen: list[Any] = []
    original = requests.adapters.HTTPAdapter.send

    def recording_send(self: Any, request: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["verify"])
        return original(self, request, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", recording_send)
    target = webhook_target(webhook, **settings)

    target.send(target.prepare(make_job()))

    assert seen == [verify]

"""Alerts Alertmanager left out of a notification (``max_alerts``) are fetched and decided."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from bridge.cli import main
from demo.harness.processes import free_port, wait_until
from demo.harness.stack import alertmanager_process, bridge_process
from tests.support.bridge import TOKEN, base_config
from tests.support.receiver import webhook_receiver

MODELS = ["churn-classifier", "fraud-detector", "ranker"]


def am_config(tmp_path: Path, bridge_port: int, token: Path) -> Path:
    """One group for every ModelDriftHigh alert, delivered one alert at a time (max_alerts: 1)."""
    config = {
        "route": {
            "receiver": "drift-bridge",
            "group_by": ["alertname"],
            "group_wait": "1s",
            "group_interval": "1h",
            "repeat_interval": "4h",
        },
        "receivers": [
            {
                "name": "drift-bridge",
                "webhook_configs": [
                    {
                        "url": f"http://127.0.0.1:{bridge_port}/alerts",
                        "max_alerts": 1,
                        "send_resolved": True,
                        "http_config": {
                            "authorization": {"type": "Bearer", "credentials_file": str(token)}
                        },
                    }
                ],
            }
        ],
    }
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def bridge_yml(tmp_path: Path, port: int, receiver: str, **extra: Any) -> Path:
    token = tmp_path / "bridge.token"
    token.write_text(TOKEN + "\n")
    data = base_config(token, receiver)
    data["listen_address"] = f"127.0.0.1:{port}"
    data.update(extra)
    path = tmp_path / "bridge.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def fire(am_port: int) -> None:
    """Three drifting models at once, as Prometheus would send them."""
    now = datetime.now(UTC)
    alerts = [
        {
            "labels": {"alertname": "ModelDriftHigh", "model": model, "severity": "warning"},
            "annotations": {"summary": f"Data drift for {model}", "drift_score": "0.31"},
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(hours=1)).isoformat(),
            "generatorURL": "http://prometheus/graph",
        }
        for model in MODELS
    ]
    response = requests.post(f"http://127.0.0.1:{am_port}/api/v2/alerts", json=alerts, timeout=5)
    response.raise_for_status()


@pytest.mark.integration
def test_a_group_cut_by_max_alerts_is_fetched_from_alertmanager_one_dispatch_per_alert(
    tmp_path: Path,
) -> None:
    bridge_port, am_port = free_port(), free_port()
    with webhook_receiver() as (receiver_url, recorder):
        config = bridge_yml(
            tmp_path,
            bridge_port,
            f"{receiver_url}/retrain",
            alertmanager={"url": f"http://127.0.0.1:{am_port}"},
        )
        with (
            bridge_process(config, tmp_path) as bridge,
            alertmanager_process(
                am_config(tmp_path, bridge_port, tmp_path / "bridge.token"), tmp_path, am_port
            ) as am,
        ):
            bridge.wait_http(f"http://127.0.0.1:{bridge_port}/readyz")
            am.wait_http(f"http://127.0.0.1:{am_port}/-/ready")
            fire(am_port)
            wait_until(lambda: len(recorder.requests) >= 3 or None, 30, "three dispatches")
            listed = requests.get(
                f"http://127.0.0.1:{bridge_port}/api/dispatches",
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=5,
            ).json()["dispatches"]
    sent = sorted(r.body["alert"]["labels"]["model"] for r in recorder.requests)
    assert sent == MODELS
    assert len(listed) == 3
    assert "Traceback" not in bridge.logs()


def test_check_config_says_truncated_alerts_are_not_fetched_without_alertmanager_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = bridge_yml(tmp_path, 9912, "http://127.0.0.1:9/hook")
    assert main(["check-config", f"--config.file={config}"]) == 0
    assert "truncated alerts (max_alerts) will not be fetched" in capsys.readouterr().out
    config = bridge_yml(
        tmp_path, 9912, "http://127.0.0.1:9/hook", alertmanager={"url": "http://127.0.0.1:9093"}
    )
    assert main(["check-config", f"--config.file={config}"]) == 0
    out = capsys.readouterr().out
    assert "truncated alerts (max_alerts) are fetched from http://127.0.0.1:9093" in out

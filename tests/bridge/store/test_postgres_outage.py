"""The database goes away and comes back: 503 to Alertmanager meanwhile, /readyz false,
dispatches wait; afterwards everything continues without a restart and nothing is sent twice."""

from collections import Counter
from typing import Any

import pytest
from werkzeug.test import TestResponse

from demo.harness.processes import wait_until
from tests.support.bridge import ConfigWriter, Running, auth_headers
from tests.support.fakes.webhook import FakeWebhook
from tests.support.fixtures import body
from tests.support.postgres import PostgresCluster

pytestmark = pytest.mark.integration


def alert(model: str) -> dict[str, Any]:
    """A firing notification for a new episode of ``model``."""
    payload = body("firing-single-bearer")
    payload["alerts"][0]["labels"]["model"] = model
    payload["alerts"][0]["fingerprint"] = f"fp-{model}"
    return payload


def test_a_database_restart_costs_retries_and_never_a_second_dispatch(
    write_config: ConfigWriter,
    config_data: dict[str, Any],
    postgres_cluster: PostgresCluster,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = postgres_cluster.database()
    config_data["store"] = {
        "url": settings.url,
        "password_file": str(postgres_cluster.password_file),
        "connect_timeout": "3s",
    }
    with FakeWebhook() as hook:
        config_data["targets"]["hook"]["url"] = f"{hook.url}/hook"
        config_data["targets"]["hook"]["timeout"] = "10s"
        bridge = Running(write_config(config_data))
        with bridge:

            def post(model: str) -> TestResponse:
                return bridge.client.post("/alerts", json=alert(model), headers=auth_headers())

            assert post("before").status_code == 200
            hook.wait_for(1, timeout=10)
            # An attempt in flight when the database goes: the target answers after it is gone.
            # Long enough for the database to be stopped (slowly, on a loaded machine) first.
            hook.delay = 3.0
            assert post("in-flight").status_code == 200
            hook.wait_for(2, timeout=10)
            try:
                postgres_cluster.stop("immediate")
                response = post("during")
                assert response.status_code == 503
                assert "retry later" in response.get_json()["error"]
                ready = bridge.client.get("/readyz")
                assert ready.status_code == 503
                assert ready.get_json()["checks"]["store"] != "ok"
                # The database stays down until the attempt in flight has answered.
                wait_until(
                    lambda: "cannot record attempt 1" in caplog.text or None,
                    20,
                    "the attempt in flight to end while the database is down",
                    interval=0.1,
                )
            finally:
                hook.delay = 0.0
                postgres_cluster.start()
            # Alertmanager's retries get through once the database is back, without a restart.
            wait_until(
                lambda: post("during").status_code == 200 or None,
                30,
                "an intake to succeed after the restart",
                interval=0.2,
            )
            assert bridge.client.get("/readyz").status_code == 200

            def delivered() -> Counter[str] | None:
                models = Counter(r.json["parameters"]["MODEL"] for r in hook.received if r.json)
                done = bridge.store.outbox(0).pending == 0
                return models if done and set(models) >= {"before", "in-flight", "during"} else None

            models = wait_until(delivered, 30, "every dispatch to be delivered", interval=0.2)
            assert models == Counter({"before": 1, "in-flight": 1, "during": 1})
            states = {row.state for row in bridge.store.list_dispatches(None, None, 10, 0)}
            assert states == {"succeeded"}
    # The in-flight attempt was recorded once the database was back, not sent again.
    assert "cannot record attempt 1 (outcome success); holding it" in caplog.text
    assert "attempt 1 recorded after" in caplog.text

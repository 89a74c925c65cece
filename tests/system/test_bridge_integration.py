"""The bridge as users run it: gunicorn processes, real Alertmanagers, restarts."""

import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from demo.harness.processes import free_port, wait_until
from demo.harness.stack import (
    alertmanager_process,
    bridge_process,
    exporter_process,
    prometheus_process,
    prometheus_query,
    render_alertmanager,
    render_prometheus,
    render_rules,
)
from tests.support.bridge import TOKEN, base_config
from tests.support.fixtures import body
from tests.support.receiver import Recorder, webhook_receiver

pytestmark = pytest.mark.integration


def bridge_config(tmp_path: Path, port: int, receiver_url: str, **extra: Any) -> Path:
    token_file = tmp_path / "bridge.token"
    token_file.write_text(TOKEN + "\n")
    data = base_config(token_file, receiver_url)
    data["listen_address"] = f"127.0.0.1:{port}"
    data.update(extra)
    path = tmp_path / "bridge.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def api(port: int, path: str) -> Any:
    response = requests.get(
        f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    )
    response.raise_for_status()
    return response.json()


def models_sent(recorder: Recorder) -> list[str]:
    return [r.body["alert"]["labels"]["model"] for r in recorder.requests]


def test_real_alertmanagers_in_ha_cause_one_dispatch_per_episode_and_the_resolution_is_recorded(
    tmp_path: Path,
) -> None:
    """Prometheus -> two unclustered Alertmanagers (both deliver, with auth) -> the bridge."""
    exporter_port, prom_port, bridge_port = free_port(), free_port(), free_port()
    am_ports = [free_port(), free_port()]
    with webhook_receiver() as (receiver_url, recorder):
        config = bridge_config(tmp_path, bridge_port, f"{receiver_url}/retrain")
        am_config = render_alertmanager(
            tmp_path,
            f"http://127.0.0.1:{bridge_port}/alerts",
            tmp_path / "bridge.token",
            group_interval="1s",
            repeat_interval="2s",  # resends every couple of seconds: all must be duplicates
        )
        prom_config = render_prometheus(
            tmp_path,
            {
                "drift-exporter": f"127.0.0.1:{exporter_port}",
                "drift-bridge": f"127.0.0.1:{bridge_port}",
            },
            [f"127.0.0.1:{port}" for port in am_ports],
            render_rules(tmp_path, for_="1s"),
        )
        with (
            bridge_process(config, tmp_path) as bridge,
            exporter_process(tmp_path, exporter_port, "--days=40", "--step-seconds=0") as exporter,
            alertmanager_process(am_config, tmp_path, am_ports[0]) as am1,
            alertmanager_process(am_config, tmp_path, am_ports[1]) as am2,
            prometheus_process(prom_config, tmp_path, prom_port) as prometheus,
        ):
            bridge.wait_http(f"http://127.0.0.1:{bridge_port}/readyz")
            for process, url in [
                (exporter, f"http://127.0.0.1:{exporter_port}/-/healthy"),
                (am1, f"http://127.0.0.1:{am_ports[0]}/-/ready"),
                (am2, f"http://127.0.0.1:{am_ports[1]}/-/ready"),
                (prometheus, f"http://127.0.0.1:{prom_port}/-/ready"),
            ]:
                process.wait_http(url)

            wait_until(lambda: recorder.requests or None, 40, "the retraining dispatch")

            # Let both Alertmanagers deliver and resend for a while.
            def duplicates_from_both() -> bool | None:
                (dispatch,) = api(bridge_port, "/api/dispatches")["dispatches"]
                trail = api(bridge_port, f"/api/dispatches/{dispatch['id']}")
                decisions = [d["decision"] for d in trail["decisions"]]
                return True if decisions.count("duplicate") >= 4 else None

            wait_until(duplicates_from_both, 30, "resends from both Alertmanagers", interval=0.5)
            assert models_sent(recorder) == ["churn-classifier"]
            (sent,) = recorder.requests
            assert sent.body["parameters"]["MODEL"] == "churn-classifier"
            assert sent.body["alert"]["annotations"]["drift_score"].startswith("0.33")

            # Retraining resets the model's reference: drift falls and the alert resolves.
            requests.post(
                f"http://127.0.0.1:{exporter_port}/api/models/churn-classifier/retrain", timeout=5
            ).raise_for_status()

            def resolved() -> dict[str, Any] | None:
                (dispatch,) = api(bridge_port, "/api/dispatches")["dispatches"]
                trail: dict[str, Any] = api(bridge_port, f"/api/dispatches/{dispatch['id']}")
                return trail if trail["episode"]["state"] == "resolved" else None

            trail = wait_until(resolved, 30, "the resolution", interval=0.5)
            assert trail["state"] == "succeeded"
            assert "resolved" in [d["decision"] for d in trail["decisions"]]
            assert models_sent(recorder) == ["churn-classifier"]

            # Prometheus scrapes the bridge's metrics too.
            dispatched = prometheus_query(
                prom_port, 'drift_bridge_dispatches_total{outcome="succeeded"}'
            )
            wait_until(
                lambda: (
                    prometheus_query(
                        prom_port, 'drift_bridge_dispatches_total{outcome="succeeded"} == 1'
                    )
                    or None
                ),
                10,
                "Prometheus to scrape the bridge",
            )
            assert dispatched is not None
        assert not bridge.running()
    assert "Traceback" not in bridge.logs()


def test_several_worker_processes_still_dispatch_each_episode_once(tmp_path: Path) -> None:
    port = free_port()
    with webhook_receiver() as (receiver_url, recorder):
        config = bridge_config(tmp_path, port, receiver_url, workers=4, threads=4)
        with bridge_process(config, tmp_path) as bridge:
            bridge.wait_http(f"http://127.0.0.1:{port}/readyz")

            def worker_pids() -> set[int]:
                return {
                    int(line.split("pid: ")[1])
                    for line in bridge.logs().splitlines()
                    if "Booting worker with pid" in line
                }

            # /readyz answers from the first worker up; on a loaded machine the last one boots
            # seconds later, and the storm must meet all four.
            wait_until(lambda: len(worker_pids()) == 4 or None, 30, "four workers")

            def deliver(name: str) -> int:
                return requests.post(
                    f"http://127.0.0.1:{port}/alerts",
                    json=body(name),
                    headers={"Authorization": f"Bearer {TOKEN}"},
                    timeout=10,
                ).status_code

            names = ["firing-grouped", "firing-single-bearer", "firing-single-bearer-2"] * 20
            with ThreadPoolExecutor(16) as pool:
                statuses = list(pool.map(deliver, names))
            assert statuses == [200] * len(names)
            wait_until(lambda: len(recorder.requests) >= 2 or None, 10, "the dispatches")
            listed = api(port, "/api/dispatches")["dispatches"]
            assert sorted(d["labels"]["model"] for d in listed) == [
                "churn-classifier",
                "fraud-detector",
            ]
            assert len(worker_pids()) == 4
    assert sorted(models_sent(recorder)) == ["churn-classifier", "fraud-detector"]


def test_a_restart_with_pending_dispatches_sends_them_once_the_target_is_back(
    tmp_path: Path,
) -> None:
    port, target_port = free_port(), free_port()
    config = bridge_config(tmp_path, port, f"http://127.0.0.1:{target_port}/retrain", workers=1)
    first = bridge_process(config, tmp_path, "bridge-before")
    with first:
        first.wait_http(f"http://127.0.0.1:{port}/readyz")
        response = requests.post(
            f"http://127.0.0.1:{port}/alerts",
            json=body("firing-grouped"),
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        assert response.status_code == 200

        def retried() -> bool | None:
            rows = api(port, "/api/dispatches?state=pending")["dispatches"]
            return True if len(rows) == 2 and all(r["attempt_count"] >= 2 for r in rows) else None

        wait_until(retried, 15, "failed attempts (target down)")
        first.signal(signal.SIGTERM)
        assert first.stop(timeout=30) == 0
    assert "connection refused" in first.logs().lower()

    with (
        webhook_receiver(target_port) as (_, recorder),
        bridge_process(config, tmp_path, "bridge-after") as second,
    ):
        second.wait_http(f"http://127.0.0.1:{port}/readyz")

        def all_succeeded() -> bool | None:
            rows = api(port, "/api/dispatches")["dispatches"]
            return True if {r["state"] for r in rows} == {"succeeded"} else None

        wait_until(all_succeeded, 15, "the dispatches after the restart")
    assert sorted(models_sent(recorder)) == ["churn-classifier", "fraud-detector"]

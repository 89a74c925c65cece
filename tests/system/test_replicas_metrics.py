"""A real Prometheus scraping two bridge replicas of one PostgreSQL store: every replica reports
the fleet's totals, so a plain sum counts them twice and the README's queries count them once."""

from pathlib import Path

import pytest
import requests
import yaml

from demo.harness.processes import free_port, wait_until
from demo.harness.stack import bridge_process, prometheus_process, prometheus_query
from tests.support.fixtures import body
from tests.support.postgres import PostgresCluster

pytestmark = pytest.mark.integration

TOKEN = "metrics-token"
NEW_EPISODES = 5
DEDUPED = (
    "sum(max by (store_id) (drift_bridge_alerts_total{decision='new_episode'}"
    " * on (instance, job) group_left (store_id) drift_bridge_store_info))"
)


def value(port: int, expr: str) -> float | None:
    result = prometheus_query(port, expr)
    return float(result[0]["value"][1]) if result else None


def test_prometheus_counts_the_fleet_once_with_the_documented_queries(
    tmp_path: Path, postgres_cluster: PostgresCluster
) -> None:
    settings = postgres_cluster.database()
    (tmp_path / "token").write_text(TOKEN)
    ports = [free_port(), free_port()]
    processes = []
    for n, port in enumerate(ports):
        config = {
            "listen_address": f"127.0.0.1:{port}",
            "workers": 1,
            "auth": {"type": "bearer", "token_file": str(tmp_path / "token")},
            "store": {"url": settings.url, "password_file": str(postgres_cluster.password_file)},
            "dry_run": True,
            "targets": {"hook": {"type": "webhook", "url": "http://127.0.0.1:9/never"}},
            "routes": [{"name": "retrain", "target": "hook", "cooldown": "0s"}],
        }
        path = tmp_path / f"bridge-{n}.yml"
        path.write_text(yaml.safe_dump(config))
        processes.append(bridge_process(path, tmp_path, f"bridge-{n}"))
    prom_port = free_port()
    prom_config = tmp_path / "prometheus.yml"
    prom_config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s"},
                "scrape_configs": [
                    {
                        "job_name": "drift-bridge",
                        "static_configs": [{"targets": [f"127.0.0.1:{p}" for p in ports]}],
                    }
                ],
            }
        )
    )
    with processes[0] as first, processes[1] as second:
        for process, port in ((first, ports[0]), (second, ports[1])):
            process.wait_http(f"http://127.0.0.1:{port}/readyz", timeout=30)
        for n in range(NEW_EPISODES):
            payload = body("firing-single-bearer")
            payload["alerts"][0]["fingerprint"] = f"metrics-{n}"
            answer = requests.post(
                f"http://127.0.0.1:{ports[n % 2]}/alerts",
                json=payload,
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=10,
            )
            assert answer.status_code == 200
        with prometheus_process(prom_config, tmp_path, prom_port) as prometheus:
            prometheus.wait_http(f"http://127.0.0.1:{prom_port}/-/ready")
            naive = "sum(drift_bridge_alerts_total{decision='new_episode'})"
            wait_until(
                lambda: value(prom_port, naive) == 2 * NEW_EPISODES or None,
                30,
                "both replicas to be scraped",
                interval=0.5,
            )
            assert value(prom_port, DEDUPED) == NEW_EPISODES
            simple = "max without (instance) (drift_bridge_alerts_total{decision='new_episode'})"
            assert value(prom_port, simple) == NEW_EPISODES
            ids = prometheus_query(prom_port, "drift_bridge_store_info")
            assert len(ids) == 2
            assert len({series["metric"]["store_id"] for series in ids}) == 1
            assert {series["metric"]["kind"] for series in ids} == {"postgresql"}

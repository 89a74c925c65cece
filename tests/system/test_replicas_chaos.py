"""Chaos: 3 bridge replicas on one PostgreSQL, two unclustered real Alertmanagers, faults.

Each Alertmanager sends to its own replica (through a recording proxy standing in for a load
balancer, so the test knows what got a 2xx); the third replica only dispatches. While a stream
of drifting episodes (with Alertmanager's resends) goes on, replicas are killed with SIGKILL
(once while one holds a lease on an attempt in flight), the database is restarted with
``pg_ctl restart -m immediate``, and the fake Jenkins fails some requests. Afterwards:

- every notification that got a 2xx is in the store;
- exactly one dispatch per episode, and every dispatch delivered;
- a second delivery of one dispatch happens only for an attempt cut by a kill mid-request.
"""

import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from demo.harness.processes import Process, free_port, wait_until
from demo.harness.stack import alertmanager_process, bridge_process, render_alertmanager
from tests.support.fakes.jenkins import FakeJenkins
from tests.support.postgres import PostgresCluster
from tests.support.proxy import ProxyLog, recording_proxy

pytestmark = pytest.mark.integration

TOKEN = "chaos-token"
FIRST_EPISODES = 16  # m0..m15, one starting every 0.6 s, each firing for 5 s
SECOND_EPISODES = 4  # m0..m3 drift again later: new episodes of the same alerts


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Episode:
    model: str
    starts: float
    ends: float


@dataclass
class Replica:
    process: Process
    url: str

    def pids(self) -> set[int]:
        """The gunicorn master and its workers (one session, started with a new one)."""
        found = set()
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if os.getsid(int(entry)) == self.process.pid:
                        found.add(int(entry))
                except ProcessLookupError:
                    pass
        return found

    def kill(self, cluster: PostgresCluster, database: str) -> set[str]:
        """SIGKILL the master and its workers, start it again; returns the leases it held."""
        pids = self.pids()
        os.killpg(self.process.pid, signal.SIGKILL)
        wait_until(lambda: not self.process.running() or None, 10, "the replica to die")
        # Its leases outlive it for a moment (2 s): whatever it was sending was cut.
        held = {d for d, owner in leased(cluster, database).items() if _pid(owner) in pids}
        self.process.start()
        self.process.wait_http(f"{self.url}/readyz", timeout=30)
        return held


def _pid(owner: str) -> int:
    return int(owner.split(":")[1])


def bridge_config(work: Path, port: int, store: dict[str, str], jenkins: FakeJenkins) -> Path:
    config = {
        "listen_address": f"127.0.0.1:{port}",
        "workers": 1,
        "threads": 8,
        "auth": {"type": "bearer", "token_file": str(work / "token")},
        "store": store,
        "dispatch": {
            "poll_interval": "200ms",
            "lease": "2s",
            "retry": {"initial_delay": "100ms", "max_delay": "500ms", "deadline": "10m"},
        },
        "targets": {
            "jenkins": {
                "type": "jenkins",
                "url": jenkins.url,
                "job": "ml/retrain",
                "user": "bridge",
                "api_token_file": str(work / "jenkins.token"),
                "timeout": "5s",
            }
        },
        "routes": [
            {
                "name": "retrain",
                "matchers": ['alertname="ModelDriftHigh"'],
                "target": "jenkins",
                "parameters": {"MODEL": "{{ labels.model }}"},
                "cooldown": "0s",
            }
        ],
    }
    path = work / f"bridge-{port}.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def post_alerts(am_urls: list[str], episodes: list[Episode], now: float) -> None:
    """What Prometheus does every evaluation: send every active alert to every Alertmanager."""
    alerts = [
        {
            "labels": {"alertname": "ModelDriftHigh", "model": e.model, "severity": "warning"},
            "annotations": {"summary": f"drift on {e.model}", "drift_score": "0.31"},
            "startsAt": iso(e.starts),
            "endsAt": iso(e.ends if e.ends <= now else now + 180),
            "generatorURL": "http://prometheus/graph",
        }
        for e in episodes
        if e.starts <= now < e.ends + 3  # resolved ones are sent a few more times
    ]
    for url in am_urls:
        with suppress(requests.RequestException):
            requests.post(f"{url}/api/v2/alerts", json=alerts, timeout=5)


@pytest.fixture
def chaos(tmp_path: Path, postgres_cluster: PostgresCluster) -> Iterator[dict[str, Any]]:
    """3 replicas, 2 Alertmanagers behind recording proxies, a fake Jenkins; stopped after."""
    settings = postgres_cluster.database()
    (tmp_path / "token").write_text(TOKEN)
    (tmp_path / "jenkins.token").write_text("api-token")
    store = {"url": settings.url, "password_file": str(postgres_cluster.password_file)}
    with ExitStack() as stack:
        jenkins = stack.enter_context(FakeJenkins(csrf=False))
        jenkins.add_user("bridge", api_token="api-token")
        jenkins.add_job("ml/retrain", {"MODEL": "", "DISPATCH_ID": ""})
        replicas = []
        for n in range(3):
            port = free_port()
            config = bridge_config(tmp_path, port, store, jenkins)
            process = stack.enter_context(bridge_process(config, tmp_path, f"bridge-{n}"))
            replicas.append(Replica(process, f"http://127.0.0.1:{port}"))
        for replica in replicas:
            replica.process.wait_http(f"{replica.url}/readyz", timeout=30)
        logs: list[ProxyLog] = []
        am_urls = []
        for n in range(2):
            proxy_url, log = stack.enter_context(recording_proxy(replicas[n].url))
            logs.append(log)
            am_dir = tmp_path / f"am{n}"
            am_dir.mkdir()
            am_config = render_alertmanager(
                am_dir, f"{proxy_url}/alerts", tmp_path / "token", "100ms", "1s", "2s"
            )
            port = free_port()
            am = stack.enter_context(alertmanager_process(am_config, am_dir, port))
            am.wait_http(f"http://127.0.0.1:{port}/-/ready")
            am_urls.append(f"http://127.0.0.1:{port}")
        yield {
            "cluster": postgres_cluster,
            "settings": settings,
            "jenkins": jenkins,
            "replicas": replicas,
            "logs": logs,
            "am_urls": am_urls,
        }


def leased(cluster: PostgresCluster, database: str) -> dict[str, str]:
    """Dispatch id -> lease owner of every attempt in flight."""
    with cluster.connect(database) as conn:
        rows = conn.execute(
            "SELECT id, lease_owner FROM dispatches WHERE state = 'sending'"
        ).fetchall()
    return {row[0]: row[1] for row in rows}


def kill_holding_a_lease(chaos: dict[str, Any], database: str) -> set[str]:
    """Hold Jenkins' answers, wait for an attempt in flight, and SIGKILL its replica."""
    jenkins: FakeJenkins = chaos["jenkins"]
    replicas: list[Replica] = chaos["replicas"]
    jenkins.delay = 1.5
    try:

        def holder() -> Replica | None:
            owners = {_pid(owner) for owner in leased(chaos["cluster"], database).values()}
            return next((r for r in replicas if owners & r.pids()), None)

        replica = wait_until(holder, 20, "an attempt in flight", interval=0.05)
        time.sleep(0.3)  # the request is at Jenkins, its answer held
        held = replica.kill(chaos["cluster"], database)
        assert held, "the replica held no lease when it was killed"
        return held
    finally:
        jenkins.delay = 0.0


def test_replicas_survive_kills_and_a_database_crash_with_one_dispatch_per_episode(
    chaos: dict[str, Any],
) -> None:
    cluster: PostgresCluster = chaos["cluster"]
    jenkins: FakeJenkins = chaos["jenkins"]
    replicas: list[Replica] = chaos["replicas"]
    database = chaos["settings"].url.rsplit("/", 1)[1]
    rng = random.Random(10)
    start = time.time()
    episodes = [Episode(f"m{i}", start + 0.6 * i, start + 0.6 * i + 5) for i in range(16)]
    episodes += [Episode(f"m{i}", start + 16 + i, start + 21 + i) for i in range(4)]
    stop = threading.Event()

    def prometheus() -> None:
        while not stop.is_set():
            post_alerts(chaos["am_urls"], episodes, time.time())
            if jenkins.queue:
                jenkins.start_builds()  # builds run, so a second delivery is not merged
            stop.wait(0.5)

    sender = threading.Thread(target=prometheus, daemon=True)
    sender.start()
    killed_in_flight: set[str] = set()
    try:
        time.sleep(3)
        jenkins.fail_next(2, 503)
        killed_in_flight |= rng.choice(replicas).kill(cluster, database)
        held = kill_holding_a_lease(chaos, database)
        killed_in_flight |= held
        jenkins.fail_next(1, 500)
        time.sleep(1)
        cluster.restart("immediate")
        time.sleep(2)
        killed_in_flight |= rng.choice(replicas).kill(cluster, database)
        jenkins.fail_next(2, 503)
        wait_until(lambda: time.time() > start + 26 or None, 30, "the last episodes", interval=0.5)
    finally:
        stop.set()
        sender.join()

    def settled() -> list[tuple[Any, ...]] | None:
        with cluster.connect(database) as conn:
            rows = conn.execute(
                "SELECT d.id, d.state, e.labels, e.starts_at FROM dispatches d"
                " JOIN episodes e ON e.id = d.episode_id"
            ).fetchall()
        done = len(rows) == len(episodes) and all(row[1] == "succeeded" for row in rows)
        return rows if done else None

    rows = wait_until(settled, 60, "every episode dispatched and delivered", interval=0.5)
    with cluster.connect(database) as conn:
        stored = Counter(row[0] for row in conn.execute("SELECT payload FROM notifications"))
        per_episode = conn.execute(
            "SELECT episode_id, COUNT(*) FROM dispatches GROUP BY episode_id HAVING COUNT(*) > 1"
        ).fetchall()
        recorded_faults = Counter(
            row[0]
            for row in conn.execute(
                "SELECT dispatch_id FROM attempts WHERE status >= 500"
            ).fetchall()
        )

    # Every notification that got a 2xx is in the store (as many times as it got one).
    acknowledged = Counter(
        exchange.body
        for log in chaos["logs"]
        for exchange in log.exchanges
        if exchange.status < 300
    )
    assert acknowledged, "no notification got through"
    assert not acknowledged - stored
    # Exactly one dispatch per episode: one per (model, startsAt), none twice.
    assert per_episode == []
    assert len({(row[2], row[3]) for row in rows}) == len(episodes)
    # Every dispatch delivered; a second delivery only for an attempt cut by a kill.
    requests_at_jenkins = Counter(
        r.form.get("DISPATCH_ID")
        for r in jenkins.received
        if r.path.endswith("/buildWithParameters")
    )
    deliveries = {row[0]: requests_at_jenkins[row[0]] - recorded_faults[row[0]] for row in rows}
    assert all(count >= 1 for count in deliveries.values()), deliveries
    repeated = {d for d, count in deliveries.items() if count > 1}
    assert repeated <= killed_in_flight, (repeated, killed_in_flight)
    print(
        f"chaos: {len(episodes)} episodes, {sum(acknowledged.values())} notifications"
        f" acknowledged, {len(killed_in_flight)} attempt(s) cut by a kill, second deliveries:"
        f" {sorted(repeated) or 'none'} (crash mid-request), {time.time() - start:.0f}s"
    )

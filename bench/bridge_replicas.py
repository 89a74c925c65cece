"""Benchmark: several bridge replicas on one PostgreSQL (fsync on, as in production).

1. Dispatch delay with 3 replicas: new episodes sent round-robin to the replicas, one after
   another; the time from the webhook's 2xx to the buildWithParameters request at the fake
   Jenkins (same clock). Whichever replica hears the NOTIFY first claims it. Goal: median < 50 ms.
2. Storm over 2 replicas: 10,000 notifications for 100 episodes, shuffled, 16 senders spread
   over both replicas: exactly 100 dispatches must reach Jenkins.
3. Outbox claims/s with 2 replicas: N pending dispatches, two processes claiming with leases and
   recording a successful attempt for each (the store calls the dispatcher makes). Goal: 1,000/s.

    .venv/bin/python bench/bridge_replicas.py [--episodes 50] [--storm 10000] [--claims 5000]
"""

import argparse
import multiprocessing
import random
import shutil
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import requests
from support import TOKEN, body, bridge, free_port, wait_ready, write_bridge_config

from bridge.payload import AlertStatus
from bridge.store.postgres import PostgresStore
from bridge.store.records import (
    AttemptOutcome,
    AttemptRecord,
    DispatchState,
    EpisodeKey,
    EpisodeOutcome,
    NewDispatch,
    NewEpisode,
)
from bridge.store.settings import PostgresSettings
from tests.support.fakes.jenkins import FakeJenkins
from tests.support.postgres import PostgresCluster

HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def notification(fingerprint: str, model: str) -> dict[str, Any]:
    payload = body("firing-single-bearer")
    payload["alerts"][0]["fingerprint"] = fingerprint
    payload["alerts"][0]["labels"]["model"] = model
    return payload


def start_replicas(
    stack: ExitStack, work: Path, jenkins: FakeJenkins, cluster: PostgresCluster, count: int
) -> list[str]:
    """``count`` drift-bridge serve processes on one database; their /alerts URLs."""
    settings = cluster.database()
    (work / "jenkins.token").write_text("api-token")
    urls = []
    for n in range(count):
        port = free_port()
        replica = work / f"replica-{n}"
        replica.mkdir()
        config = write_bridge_config(
            replica,
            port,
            {
                "jenkins": {
                    "type": "jenkins",
                    "url": jenkins.url,
                    "job": "ml/retrain",
                    "user": "bridge",
                    "api_token_file": str(work / "jenkins.token"),
                }
            },
            {
                "name": "retrain",
                "matchers": ['alertname="ModelDriftHigh"'],
                "target": "jenkins",
                "parameters": {"MODEL": "{{ labels.model }}"},
                "cooldown": "0s",
            },
            store={"url": settings.url, "password_file": str(cluster.password_file)},
            workers=1,
            threads=8,
        )
        process = stack.enter_context(bridge(config, replica))
        wait_ready(process, f"http://127.0.0.1:{port}/readyz")
        urls.append(f"http://127.0.0.1:{port}/alerts")
    return urls


def dispatch_delay(urls: list[str], jenkins: FakeJenkins, episodes: int) -> None:
    sessions = [requests.Session() for _ in urls]
    acked: dict[str, float] = {}
    before = len(jenkins.received)
    for n in range(episodes):
        response = sessions[n % len(urls)].post(
            urls[n % len(urls)], json=notification(f"delay-{n}", f"m{n}"), headers=HEADERS
        )
        acked[response.json()["alerts"][0]["dispatch_id"]] = time.time()
        time.sleep(0.05)
    arrived = {
        r.form["DISPATCH_ID"]: r.at
        for r in jenkins.wait_for(before + episodes, timeout=60)[before:]
    }
    delays = sorted((arrived[d] - acked[d]) * 1000 for d in acked)
    print(f"dispatch delay with {len(urls)} replicas, webhook 2xx -> fake Jenkins, n={episodes}:")
    print(
        f"  median {statistics.median(delays):6.2f} ms   p90 {delays[int(len(delays) * 0.9)]:6.2f}"
        f" ms   max {max(delays):6.2f} ms   (goal: median < 50 ms)"
    )


def storm(urls: list[str], jenkins: FakeJenkins, total: int, episodes: int) -> None:
    before = len(jenkins.received)
    deliveries = [f"storm-{n % episodes}" for n in range(total)]
    random.Random(7).shuffle(deliveries)
    local = threading.local()

    def deliver(item: tuple[int, str]) -> int:
        index, fingerprint = item
        if not hasattr(local, "session"):
            local.session = requests.Session()
        response = local.session.post(
            urls[index % len(urls)],
            json=notification(fingerprint, fingerprint),
            headers=HEADERS,
            timeout=30,
        )
        return int(response.status_code)

    started = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(deliver, enumerate(deliveries)))
    elapsed = time.perf_counter() - started
    time.sleep(3)  # the last dispatches go out
    sent = [r for r in jenkins.received[before:] if r.form.get("MODEL", "").startswith("storm-")]
    print(
        f"storm over {len(urls)} replicas: {total} notifications for {episodes} episodes in "
        f"{elapsed:.1f}s = {total / elapsed:.0f} notifications/s (16 senders)"
    )
    print(f"  non-200 answers: {sum(s != 200 for s in statuses)}")
    print(
        f"  requests at Jenkins: {len(sent)} for {len({r.form['MODEL'] for r in sent})} episodes"
        f" (expected exactly {episodes})"
    )


def fill_outbox(settings: PostgresSettings, count: int) -> None:
    store = PostgresStore(settings)

    def work(txn: Any) -> None:
        for n in range(count):
            nid = txn.add_notification(
                _NOTIFICATION, received_at=0.0, payload="{}", remote_addr=None, user_agent=None
            )
            episode = txn.add_episode(
                NewEpisode(
                    EpisodeKey("retrain", f"claim-{n}", "t"),
                    {},
                    "{}",
                    AlertStatus.FIRING,
                    EpisodeOutcome.DISPATCHED,
                    f"c{n}",
                    nid,
                    0.0,
                )
            )
            txn.add_dispatch(
                NewDispatch(
                    id=f"c{n}",
                    episode_id=episode.id,
                    kind=AlertStatus.FIRING,
                    route="retrain",
                    target="jenkins",
                    target_type="jenkins",
                    state=DispatchState.PENDING,
                    context_json="{}",
                    request_json="{}",
                    error=None,
                    reason=None,
                    created_at=0.0,
                    deadline_at=1e12,
                )
            )

    store.atomically(work)
    store.close()


def claimer(settings: PostgresSettings, owner: str, batch: int, done: Any) -> None:
    """Claim ``batch`` at a time and record each attempt on its own thread, as a dispatcher does."""
    store = PostgresStore(settings, migrate=False)
    count = 0

    def finish(dispatch: Any) -> None:
        now = time.time()
        record = AttemptRecord(
            dispatch.id,
            dispatch.attempt,
            now,
            now,
            AttemptOutcome.SUCCESS,
            None,
            200,
            "ok",
            None,
            None,
            None,
        )
        store.finish_attempt(record, owner, "jenkins")

    with ThreadPoolExecutor(batch) as pool:
        while claimed := store.claim_due(time.time(), owner, 300.0, batch):
            list(pool.map(finish, claimed))
            count += len(claimed)
    store.close()
    done.put(count)


def claims_per_second(cluster: PostgresCluster, count: int, batch: int) -> None:
    settings = cluster.database()
    fill_outbox(settings, count)
    done: Any = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(target=claimer, args=(settings, f"r{n}", batch, done))
        for n in range(2)
    ]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    counts = [done.get() for _ in workers]
    elapsed = time.perf_counter() - started
    for worker in workers:
        worker.join()
    print(
        f"outbox, 2 replicas claiming {batch} at a time: {sum(counts)} claims + attempts in"
        f" {elapsed:.2f}s = {sum(counts) / elapsed:.0f}/s (split {counts}; goal: 1,000/s)"
    )


_NOTIFICATION: Any = None


def main() -> None:
    global _NOTIFICATION
    from bridge.payload import parse_notification

    _NOTIFICATION = parse_notification(body("firing-single-bearer"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--storm", type=int, default=10_000)
    parser.add_argument("--storm-episodes", type=int, default=100)
    parser.add_argument("--claims", type=int, default=5_000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    cluster = PostgresCluster(root, durable=True)
    try:
        cluster.init()
        cluster.start()
        for batch in (1, 8):
            claims_per_second(cluster, args.claims, batch)
        with tempfile.TemporaryDirectory() as tmp, FakeJenkins(csrf=False) as jenkins:
            jenkins.add_user("bridge", api_token="api-token")
            jenkins.add_job("ml/retrain", {"MODEL": "", "DISPATCH_ID": ""})
            with ExitStack() as stack:
                urls = start_replicas(stack, Path(tmp), jenkins, cluster, 3)
                dispatch_delay(urls, jenkins, args.episodes)
                storm(urls[:2], jenkins, args.storm, args.storm_episodes)
    finally:
        cluster.stop("fast")
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

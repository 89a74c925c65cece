"""Benchmark: how fast a dispatch reaches Jenkins, and a storm of duplicate notifications.

The bridge runs as in production (``drift-bridge serve``, gunicorn, SQLite) with a ``jenkins``
target pointed at the fake Jenkins of the tests (tests/support/fakes/jenkins.py), in this process.

1. Dispatch delay: for N new episodes sent one after another, the time from the webhook's 2xx
   (taken here) to the buildWithParameters request arriving at the fake Jenkins (taken there,
   same clock). Goal: median under 50 ms.
2. Storm: 10,000 notifications for 100 episodes (each episode delivered 100 times, shuffled,
   16 concurrent senders): exactly 100 dispatches must reach Jenkins. Reports the intake rate.

    .venv/bin/python bench/bridge_dispatch.py [--episodes 50] [--storm 10000] [--storm-episodes 100]
"""

import argparse
import random
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
from support import TOKEN, body, bridge, free_port, wait_ready, write_bridge_config

from tests.support.fakes.jenkins import FakeJenkins


def notification(fingerprint: str, model: str) -> dict[str, Any]:
    payload = body("firing-single-bearer")
    payload["alerts"][0]["fingerprint"] = fingerprint
    payload["alerts"][0]["labels"]["model"] = model
    return payload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--storm", type=int, default=10_000)
    parser.add_argument("--storm-episodes", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeJenkins(csrf=False) as jenkins:
        work = Path(tmp)
        (work / "jenkins.token").write_text("api-token")
        jenkins.add_user("bridge", api_token="api-token")
        jenkins.add_job("ml/retrain", {"MODEL": "", "DISPATCH_ID": ""})
        port = free_port()
        config = write_bridge_config(
            work,
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
        )
        url = f"http://127.0.0.1:{port}/alerts"
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with bridge(config, work) as process:
            wait_ready(process, f"http://127.0.0.1:{port}/readyz")
            session = requests.Session()

            # 1. Dispatch delay, one episode at a time.
            acked: dict[str, float] = {}
            for n in range(args.episodes):
                response = session.post(
                    url, json=notification(f"delay-{n}", f"m{n}"), headers=headers, timeout=10
                )
                acked[response.json()["alerts"][0]["dispatch_id"]] = time.time()
                time.sleep(0.05)
            arrived = {
                r.form["DISPATCH_ID"]: r.at for r in jenkins.wait_for(args.episodes, timeout=30)
            }
            delays = sorted((arrived[d] - acked[d]) * 1000 for d in acked)
            print(f"dispatch delay, webhook 2xx -> request at fake Jenkins, n={len(delays)}:")
            print(
                f"  median {statistics.median(delays):6.2f} ms   p90 "
                f"{delays[int(len(delays) * 0.9)]:6.2f} ms   max {max(delays):6.2f} ms"
                "   (goal: median < 50 ms)"
            )

            # 2. The storm.
            before = len(jenkins.received)
            deliveries = [f"storm-{n % args.storm_episodes}" for n in range(args.storm)]
            random.Random(7).shuffle(deliveries)

            local = threading.local()

            def deliver(fingerprint: str) -> int:
                if not hasattr(local, "session"):
                    local.session = requests.Session()
                response = local.session.post(
                    url, json=notification(fingerprint, fingerprint), headers=headers, timeout=30
                )
                return int(response.status_code)

            started = time.perf_counter()
            with ThreadPoolExecutor(16) as pool:
                statuses = list(pool.map(deliver, deliveries))
            elapsed = time.perf_counter() - started
            time.sleep(2)  # let the last dispatches go out
            sent = [
                r for r in jenkins.received[before:] if r.form.get("MODEL", "").startswith("storm-")
            ]
            episodes = {r.form["MODEL"] for r in sent}
            print(
                f"storm: {args.storm} notifications for {args.storm_episodes} episodes in "
                f"{elapsed:.1f}s = {args.storm / elapsed:.0f} notifications/s "
                f"(16 concurrent senders, keep-alive)"
            )
            print(f"  non-200 answers: {sum(s != 200 for s in statuses)}")
            print(
                f"  requests at Jenkins: {len(sent)} for {len(episodes)} distinct episodes "
                f"(expected exactly {args.storm_episodes})"
            )
            if len(sent) != args.storm_episodes or len(episodes) != args.storm_episodes:
                raise SystemExit("FAILED: not exactly one dispatch per episode")


if __name__ == "__main__":
    main()

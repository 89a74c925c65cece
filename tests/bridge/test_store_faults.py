"""A fault of the store's disk that clears must clear: the bridge recovers without a restart.

While the store cannot record, webhooks get 503 (Alertmanager retries them), never a 2xx for what
was not written; /readyz and drift_bridge_store_up say so; an attempt whose outcome could not be
written is held, not sent again.
"""

import shutil
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from bridge.store import SQLiteStore
from bridge.web.app import create_app
from demo.harness.processes import wait_until
from tests.support.bridge import ConfigWriter, Running, auth_headers
from tests.support.fixtures import body
from tests.support.store_faults import SmallDisk, StoreFaults

# The faults are made for real, with chattr and mount (root only; skipped elsewhere).
pytestmark = pytest.mark.integration


def post(client: FlaskClient, starts_at: int = 0, payload: dict[str, Any] | None = None) -> int:
    """POST a firing webhook for a new episode; the status code."""
    data = payload or body("firing-single-bearer")
    data["alerts"][0]["startsAt"] = (
        f"2026-11-25T08:{starts_at // 60 % 60:02d}:{starts_at % 60:02d}Z"
    )
    return client.post("/alerts", json=data, headers=auth_headers()).status_code


def recovers(client: FlaskClient, starts_at: int, timeout: float = 10.0) -> None:
    """Wait (a few seconds at most) for a webhook to be accepted again."""
    wait_until(lambda: post(client, starts_at) == 200 or None, timeout, "the intake to recover")


def notifications(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        count: int = conn.execute("SELECT count(*) FROM notifications").fetchone()[0]
    return count


def store_ready(client: FlaskClient) -> bool:
    """What /readyz says of the store (these apps run no dispatcher, so never ready as a whole)."""
    return bool(client.get("/readyz").get_json()["checks"]["store"] == "ok")


def store_up(client: FlaskClient) -> str:
    text = client.get("/metrics").get_data(as_text=True)
    return next(line for line in text.splitlines() if line.startswith("drift_bridge_store_up "))


def test_connections_opened_while_the_store_was_unwritable_recover_when_it_clears(
    write_config: ConfigWriter, config_data: dict[str, Any], store_faults: StoreFaults
) -> None:
    config = write_config(config_data)
    store = SQLiteStore(config.store_path)
    client = create_app(config, store).test_client()
    store_faults.freeze(config.store_path)
    # The writer thread and a reader thread open their connections during the fault: SQLite
    # opens them read-only, and they stayed so.
    assert post(client, 1) == 503
    reader = threading.Thread(target=lambda: client.get("/api/dispatches", headers=auth_headers()))
    reader.start()
    reader.join()
    assert not store_ready(client)
    assert store_up(client) == "drift_bridge_store_up 0.0"
    store_faults.thaw()
    recovers(client, 2)
    assert client.get("/readyz").get_json()["checks"]["store"] == "ok"
    assert store_up(client) == "drift_bridge_store_up 1.0"
    assert notifications(config.store_path) == 1


def test_readiness_writes_to_the_store_and_fails_while_it_cannot(
    write_config: ConfigWriter, config_data: dict[str, Any], store_faults: StoreFaults
) -> None:
    config = write_config(config_data)
    store = SQLiteStore(config.store_path)
    client = create_app(config, store).test_client()
    assert post(client, 1) == 200
    assert store_ready(client)
    with store_faults.frozen(config.store_path):
        assert not store_ready(client)
        assert store_up(client) == "drift_bridge_store_up 0.0"
        assert post(client, 2) == 503
    wait_until(lambda: store_ready(client) or None, 10, "the store to be ready again")
    assert store_up(client) == "drift_bridge_store_up 1.0"


@pytest.mark.parametrize("removal", ["the files", "the directory (rm -rf)"])
def test_a_store_removed_while_running_gets_503_until_it_is_back(
    write_config: ConfigWriter, config_data: dict[str, Any], tmp_path: Path, removal: str
) -> None:
    config_data["store"]["path"] = "state/bridge.db"
    config = write_config(config_data)
    store = SQLiteStore(config.store_path)
    client = create_app(config, store).test_client()
    assert post(client, 1) == 200
    backup = tmp_path / "backup.db"
    with sqlite3.connect(config.store_path) as source, sqlite3.connect(backup) as copy:
        source.backup(copy)
    if removal == "the files":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{config.store_path}{suffix}").unlink(missing_ok=True)
    else:
        shutil.rmtree(config.store_path.parent)
    # Written to an unlinked file, these were lost at the next restart.
    assert post(client, 2) == 503
    problem = client.get("/readyz").get_json()["checks"]["store"]
    assert f"store {config.store_path}: the file is missing" in problem
    assert not config.store_path.exists(), "the bridge must not create an empty store in its place"
    config.store_path.parent.mkdir(exist_ok=True)
    shutil.copy(backup, config.store_path)
    recovers(client, 3)
    assert notifications(config.store_path) == 2


def test_a_full_disk_gets_503_never_2xx_and_the_intake_recovers_when_space_returns(
    write_config: ConfigWriter, config_data: dict[str, Any], small_disk: SmallDisk
) -> None:
    config_data["store"]["path"] = str(small_disk.path / "bridge.db")
    config = write_config(config_data)
    store = SQLiteStore(config.store_path)
    client = create_app(config, store).test_client()
    assert post(client, 1) == 200
    small_disk.fill()
    big = body("firing-single-bearer")
    big["alerts"][0]["annotations"]["description"] = "x" * 200_000
    answers = [post(client, 10 + n, big) for n in range(8)]
    accepted = answers.count(200)
    assert set(answers) <= {200, 503}, answers
    assert 503 in answers, answers
    small_disk.free()
    recovers(client, 30)
    assert store_ready(client)
    # Everything acknowledged is there: the first one, those accepted while full, the last.
    assert notifications(config.store_path) == 2 + accepted


def test_the_store_and_its_wal_are_created_private(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "bridge.db")
    store.ping()
    for suffix in ("", "-wal", "-shm"):
        mode = Path(f"{tmp_path / 'bridge.db'}{suffix}").stat().st_mode & 0o777
        assert mode == 0o600, f"bridge.db{suffix} is {mode:o}"


def test_an_attempt_whose_outcome_cannot_be_recorded_is_held_not_sent_again(
    write_config: ConfigWriter,
    config_data: dict[str, Any],
    tmp_path: Path,
    store_faults: StoreFaults,
) -> None:
    job = tmp_path / "retrain.sh"
    job.write_text(
        "#!/bin/sh\n"
        f'echo run >> "{tmp_path}/runs"\n'
        f'while [ ! -e "{tmp_path}/go" ]; do sleep 0.05; done\n'
    )
    job.chmod(0o755)
    config_data["targets"] = {"job": {"type": "command", "command": [str(job)], "timeout": "30s"}}
    config_data["routes"][0]["target"] = "job"
    config_data["routes"][0]["parameters"] = {}
    config_data["dispatch"]["lease"] = "1s"
    config = write_config(config_data)
    runs = tmp_path / "runs"
    with Running(config) as bridge:
        dispatch_id = bridge.fire()
        wait_until(lambda: runs.exists() or None, 10, "the job to start")
        store_faults.freeze(config.store_path)
        (tmp_path / "go").touch()
        # The job has finished; its outcome cannot be written for several leases.
        time.sleep(3.5)
        store_faults.thaw()
        trail = bridge.wait_state(dispatch_id, "succeeded")
        time.sleep(1.0)  # a second run, if any, would have started by now
        assert runs.read_text() == "run\n"
        assert [a["outcome"] for a in bridge.trail(dispatch_id)["attempts"]] == ["success"]
        assert trail["attempts"][0]["attempt"] == 1

"""The outbox worker: retries in one place, dead letters, restarts and leases."""

import time
from pathlib import Path
from typing import Any

import pytest

from bridge.store import SQLiteStore
from bridge.web.app import create_app
from demo.harness.processes import wait_until
from tests.support.bridge import ConfigWriter, Running, auth_headers, seconds
from tests.support.fixtures import body


def script(tmp_path: Path, failures: int) -> Path:
    """A retraining job that asks for a retry (exit 75) ``failures`` times, then records its run."""
    path = tmp_path / "retrain.sh"
    path.write_text(
        "#!/bin/sh\n"
        f'count=$(cat "{tmp_path}/runs" 2>/dev/null || echo 0)\n'
        f'echo $((count + 1)) > "{tmp_path}/runs"\n'
        f'if [ "$count" -lt {failures} ]; then echo "not yet ($count)" >&2; exit 75; fi\n'
        f'echo "$DRIFT_BRIDGE_DISPATCH_ID $MODEL" >> "{tmp_path}/done"\n'
    )
    path.chmod(0o755)
    return path


@pytest.fixture
def command_config(
    write_config: ConfigWriter, config_data: dict[str, Any], tmp_path: Path
) -> tuple[ConfigWriter, dict[str, Any]]:
    config_data["targets"] = {
        "job": {"type": "command", "command": [str(script(tmp_path, 2))], "timeout": "5s"}
    }
    config_data["routes"][0]["target"] = "job"
    config_data["routes"][0]["parameters"] = {"MODEL": "{{ labels.model }}"}
    return write_config, config_data


@pytest.mark.integration
def test_transient_failures_are_retried_with_backoff_until_success(
    command_config: tuple[ConfigWriter, dict[str, Any]], tmp_path: Path
) -> None:
    write_config, data = command_config
    with Running(write_config(data)) as bridge:
        dispatch_id = bridge.fire()
        trail = bridge.wait_state(dispatch_id, "succeeded")
    outcomes = [(a["attempt"], a["outcome"], a["reason"]) for a in trail["attempts"]]
    assert outcomes == [
        (1, "retry", "command_failed"),
        (2, "retry", "command_failed"),
        (3, "success", None),
    ]
    assert "exit status 75" in trail["attempts"][0]["message"]
    assert "not yet (0)" in trail["attempts"][0]["message"]
    # Backoff: 100ms initial, doubling, jittered to [50%, 100%].
    first, second, third = trail["attempts"]
    gap1 = seconds(second["started_at"]) - seconds(first["finished_at"])
    gap2 = seconds(third["started_at"]) - seconds(second["finished_at"])
    assert 0.05 <= gap1 < 1.0
    assert 0.1 <= gap2 < 1.5
    assert (tmp_path / "done").read_text() == f"{dispatch_id} fraud-detector\n"


@pytest.mark.integration
def test_a_permanent_failure_dead_letters_at_once_and_a_manual_retry_sends_it(
    command_config: tuple[ConfigWriter, dict[str, Any]], tmp_path: Path
) -> None:
    write_config, data = command_config
    missing = tmp_path / "not-installed-yet.sh"
    data["targets"]["job"]["command"] = [str(missing)]
    with Running(write_config(data)) as bridge:
        dispatch_id = bridge.fire()
        dead = bridge.wait_state(dispatch_id, "dead")
        assert len(dead["attempts"]) == 1
        assert dead["last_reason"] == "client_error"
        metrics = bridge.client.get("/metrics").get_data(as_text=True)
        assert "drift_bridge_dead_letters 1.0" in metrics
        # Retrying before the cause is fixed fails again, and says so.
        retried = bridge.client.post(f"/api/dispatches/{dispatch_id}/retry", headers=auth_headers())
        assert retried.status_code == 202
        bridge.wait_state(dispatch_id, "dead")
        # Fixed: the job exists now.
        missing.write_text(script(tmp_path, 0).read_text())
        missing.chmod(0o755)
        assert (
            bridge.client.post(
                f"/api/dispatches/{dispatch_id}/retry", headers=auth_headers()
            ).status_code
            == 202
        )
        done = bridge.wait_state(dispatch_id, "succeeded")
    assert [a["outcome"] for a in done["attempts"]] == ["failed", "failed", "success"]
    assert (tmp_path / "done").read_text().split()[0] == dispatch_id


def test_retrying_is_refused_for_what_is_not_dead(
    command_config: tuple[ConfigWriter, dict[str, Any]],
) -> None:
    write_config, data = command_config
    data["dry_run"] = True
    with Running(write_config(data)) as bridge:
        dispatch_id = bridge.fire()
        refused = bridge.client.post(f"/api/dispatches/{dispatch_id}/retry", headers=auth_headers())
        assert refused.status_code == 409
        assert "is dry_run; only dead dispatches are retried" in refused.get_json()["error"]
        unknown = bridge.client.post("/api/dispatches/drb-nope/retry", headers=auth_headers())
        assert unknown.status_code == 404


@pytest.mark.integration
def test_a_dispatch_that_keeps_failing_is_dead_lettered_at_its_deadline(
    command_config: tuple[ConfigWriter, dict[str, Any]],
) -> None:
    write_config, data = command_config
    data["targets"]["job"]["command"] = ["/bin/sh", "-c", "echo busy >&2; exit 75"]
    data["dispatch"]["retry"] = {"initial_delay": "100ms", "max_delay": "200ms", "deadline": "1s"}
    with Running(write_config(data)) as bridge:
        dispatch_id = bridge.fire()
        dead = bridge.wait_state(dispatch_id, "dead", timeout=10)
    assert len(dead["attempts"]) >= 3
    assert dead["attempts"][-1]["outcome"] == "failed"
    assert "gave up at the deadline" in dead["last_error"]
    assert "exit status 75" in dead["last_error"]


@pytest.mark.integration
def test_pending_dispatches_survive_a_restart_and_are_sent_after_it(
    command_config: tuple[ConfigWriter, dict[str, Any]], tmp_path: Path
) -> None:
    write_config, data = command_config
    data["targets"]["job"]["command"] = [str(script(tmp_path, 0))]
    config = write_config(data)
    # The bridge goes down right after acknowledging: no dispatcher ever ran.
    store = SQLiteStore(config.store_path)
    client = create_app(config, store).test_client()
    response = client.post("/alerts", json=body("firing-grouped"), headers=auth_headers())
    assert response.status_code == 200
    store.close()
    assert not (tmp_path / "done").exists()
    with Running(config) as bridge:

        def both_sent() -> bool | None:
            done = tmp_path / "done"
            return (done.exists() and len(done.read_text().splitlines()) == 2) or None

        wait_until(both_sent, 10, "both dispatches after the restart")
        # The job has run; its attempt is recorded a moment later.
        wait_until(
            lambda: bridge.store.outbox(time.time()).pending == 0 or None, 10, "an empty outbox"
        )
    ids = {line.split()[0] for line in (tmp_path / "done").read_text().splitlines()}
    assert ids == {a["dispatch_id"] for a in response.get_json()["alerts"]}


@pytest.mark.integration
def test_a_dispatch_leased_by_a_process_that_died_is_taken_over(
    command_config: tuple[ConfigWriter, dict[str, Any]], tmp_path: Path
) -> None:
    write_config, data = command_config
    data["targets"]["job"]["command"] = [str(script(tmp_path, 0))]
    data["dispatch"]["lease"] = "1s"
    config = write_config(data)
    store = SQLiteStore(config.store_path)
    client = create_app(config, store).test_client()
    client.post("/alerts", json=body("firing-single-bearer"), headers=auth_headers())
    (claimed,) = store.claim_due(time.time(), "crashed-worker", 1.0, 10)
    assert store.claim_due(time.time(), "other", 1.0, 10) == []  # leased: nobody else takes it
    with Running(config) as bridge:
        done = bridge.wait_state(claimed.id, "succeeded", timeout=10)
    assert done["attempt_count"] == 2  # the lost attempt counts
    assert len(done["attempts"]) == 1  # only the one that finished is recorded


@pytest.mark.integration
def test_many_episodes_are_each_sent_once(
    command_config: tuple[ConfigWriter, dict[str, Any]], tmp_path: Path
) -> None:
    write_config, data = command_config
    data["targets"]["job"]["command"] = [str(script(tmp_path, 0))]
    data["dispatch"]["concurrency"] = 3
    with Running(write_config(data)) as bridge:
        ids = set()
        for n in range(12):
            payload = body("firing-single-bearer")
            payload["alerts"][0]["fingerprint"] = f"fp{n:04d}"
            for _ in range(2):  # each delivered twice
                response = bridge.client.post("/alerts", json=payload, headers=auth_headers())
                ids.add(response.get_json()["alerts"][0]["dispatch_id"])
        assert len(ids) == 12
        wait_until(lambda: bridge.store.outbox(time.time()).pending == 0 or None, 15, "the outbox")
    sent = [line.split()[0] for line in (tmp_path / "done").read_text().splitlines()]
    assert sorted(sent) == sorted(ids)


@pytest.mark.integration
def test_a_job_that_fails_on_its_own_is_dead_lettered_without_re_running_it(
    command_config: tuple[ConfigWriter, dict[str, Any]], tmp_path: Path
) -> None:
    write_config, data = command_config
    data["targets"]["job"]["command"] = ["/bin/sh", "-c", "echo run >> runs.log; exit 1"]
    data["targets"]["job"]["working_dir"] = str(tmp_path)
    with Running(write_config(data)) as bridge:
        dispatch_id = bridge.fire()
        dead = bridge.wait_state(dispatch_id, "dead")
        time.sleep(0.5)
    assert [a["outcome"] for a in dead["attempts"]] == ["failed"]
    assert (tmp_path / "runs.log").read_text() == "run\n"


def test_dry_run_turned_on_later_stops_pending_dispatches_from_being_sent(
    command_config: tuple[ConfigWriter, dict[str, Any]], tmp_path: Path
) -> None:
    write_config, data = command_config
    data["targets"]["job"]["command"] = [str(script(tmp_path, 0))]
    config = write_config(data)
    store = SQLiteStore(config.store_path)
    response = (
        create_app(config, store)
        .test_client()
        .post("/alerts", json=body("firing-single-bearer"), headers=auth_headers())
    )
    dispatch_id = response.get_json()["alerts"][0]["dispatch_id"]
    data["dry_run"] = True
    with Running(write_config(data)) as bridge:
        trail = bridge.wait_state(dispatch_id, "dry_run")
    assert trail["attempts"][0]["outcome"] == "dry_run"
    assert not (tmp_path / "done").exists()


@pytest.mark.integration
def test_stopping_interrupts_a_running_job_which_runs_again_after_the_restart_never_twice_at_once(
    command_config: tuple[ConfigWriter, dict[str, Any]], tmp_path: Path
) -> None:
    write_config, data = command_config
    job = tmp_path / "long.sh"
    job.write_text(
        "#!/bin/sh\n"
        f'echo "start $$" >> "{tmp_path}/runs"\n'
        "sleep 30\n"
        f'echo "end $$" >> "{tmp_path}/runs"\n'
    )
    job.chmod(0o755)
    data["targets"]["job"] = {"type": "command", "command": [str(job)], "timeout": "1m"}
    config = write_config(data)
    bridge = Running(config)
    with bridge:
        dispatch_id = bridge.fire()
        wait_until(lambda: (tmp_path / "runs").exists() or None, 10, "the job to start")
        started = time.monotonic()
        bridge.dispatcher.stop(timeout=0.5)
        assert time.monotonic() - started < 10
        trail = bridge.trail(dispatch_id)
    (attempt,) = trail["attempts"]
    assert attempt["outcome"] == "retry"
    assert attempt["reason"] == "interrupted"
    assert trail["state"] == "pending"
    (first_pid,) = [line.split()[1] for line in (tmp_path / "runs").read_text().splitlines()]
    assert not Path(f"/proc/{first_pid}").exists()  # killed, not left behind
    # After the restart the job runs again, alone.
    job.write_text(f'#!/bin/sh\necho "start $$" >> "{tmp_path}/runs"\n')
    with Running(config) as again:
        again.wait_state(dispatch_id, "succeeded")
    assert [line.split()[0] for line in (tmp_path / "runs").read_text().splitlines()] == [
        "start",
        "start",
    ]

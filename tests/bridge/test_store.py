"""The SQLite store's group commit: many intakes, one commit, each one all or nothing."""

import json
import threading
import time
from pathlib import Path

import pytest

from bridge.payload import AlertStatus
from bridge.store import SQLiteStore, StoreError
from bridge.store.records import EpisodeKey, EpisodeOutcome, NewEpisode, Requeue
from bridge.store.sqlite_transaction import SQLiteTransaction, labels_key


def episode(n: int) -> NewEpisode:
    return NewEpisode(
        key=EpisodeKey("route", f"fp{n}", "2026-11-25T08:28:11.022000000Z"),
        labels={"model": f"m{n}"},
        cooldown_key="{}",
        state=AlertStatus.FIRING,
        outcome=EpisodeOutcome.COOLDOWN_SKIPPED,
        dispatch_id=None,
        notification_id=0,
        opened_at=time.time(),
    )


def new_store(tmp_path: Path) -> SQLiteStore:
    """A store with one notification, which the episodes of these tests point at."""
    store = SQLiteStore(tmp_path / "bridge.db")
    with store.transaction() as txn:
        txn.conn.execute(
            "INSERT INTO notifications (id, received_at, receiver, status, group_key,"
            " external_url, alert_count, truncated_alerts, payload)"
            " VALUES (0, 0, 'r', 'firing', '', '', 0, 0, '{}')"
        )
    return store


def test_concurrent_intakes_commit_together_and_a_failing_one_alone_is_rolled_back(
    tmp_path: Path,
) -> None:
    store = new_store(tmp_path)
    results: dict[int, object] = {}

    def intake(n: int) -> None:
        def work(txn: SQLiteTransaction) -> int:
            txn.count("intakes", {})
            added = txn.add_episode(episode(n))
            if n % 3 == 0:
                raise ValueError(f"intake {n} fails after writing")
            return added.id

        try:
            results[n] = store.atomically(work)
        except ValueError as err:
            results[n] = err

    threads = [threading.Thread(target=intake, args=(n,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = {n for n, r in results.items() if isinstance(r, ValueError)}
    assert failed == {n for n in range(30) if n % 3 == 0}
    for n in range(30):
        found = store.find_episode(episode(n).key)
        assert (found is None) == (n in failed), n
    counters = {name: value for name, _, value in store.counters()}
    assert counters["intakes"] == 20  # the failed intakes' counts went with them


def test_a_second_episode_with_the_same_key_is_refused(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    store.atomically(lambda txn: txn.add_episode(episode(1)))
    with pytest.raises(StoreError, match="UNIQUE"):
        store.atomically(lambda txn: txn.add_episode(episode(1)))


def test_a_store_that_cannot_be_created_says_where(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreError, match="cannot open the store"):
        SQLiteStore(tmp_path / "file" / "bridge.db")


def test_requeueing_a_dead_dispatch_starts_its_backoff_over(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    with store.transaction() as txn:
        added = txn.add_episode(episode(1))
        txn.conn.execute(
            "INSERT INTO dispatches (id, episode_id, kind, route, target, target_type, state,"
            " context, request, created_at, deadline_at, attempts)"
            " VALUES ('d1', ?, 'firing', 'route', 'a', 'webhook', 'dead', '{}', '{}', 0, 0, 7)",
            (added.id,),
        )
    assert store.requeue(Requeue("d1", "b", "jenkins", {"url": "x"}, None, 10.0, 99.0))
    assert not store.requeue(Requeue("d1", "b", "jenkins", {"url": "x"}, None, 10.0, 99.0))
    (claimed,) = store.claim_due(11.0, "me", 30, 10)
    assert (claimed.target, claimed.target_type) == ("b", "jenkins")
    assert claimed.attempt - claimed.retry_from == 1
    counters = {name: value for name, _, value in store.counters()}
    assert counters["drift_bridge_dispatch_retries_requested_total"] == 1


@pytest.mark.parametrize(
    ("labels", "stored"),
    [
        ({}, "{}"),
        ({"target": "hook", "outcome": "created"}, '{"outcome":"created","target":"hook"}'),
        ({"model": "modèle", "team": "机器"}, '{"model":"mod\\u00e8le","team":"\\u673a\\u5668"}'),
        ({"q": 'a"b\\c'}, '{"q":"a\\"b\\\\c"}'),
    ],
)
def test_counter_and_cooldown_keys_keep_the_text_existing_stores_hold(
    labels: dict[str, str], stored: str
) -> None:
    # Both are compared as text with rows written by earlier versions: the text must not move.
    assert labels_key(labels) == stored
    assert labels_key(labels) == json.dumps(dict(sorted(labels.items())), separators=(",", ":"))

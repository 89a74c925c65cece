"""The store protocol, the same for every store: SQLite (embedded) and PostgreSQL (shared).

Every test runs against both; PostgreSQL is a real server (tests/support/postgres.py).
"""

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bridge.metrics import STORE_PRUNED_ROWS_TOTAL
from bridge.payload import AlertStatus, Notification, parse_notification
from bridge.store import Store, StoreError, Transaction
from bridge.store.migrations import latest
from bridge.store.opening import migrations_for, open_store
from bridge.store.pruning import Cutoffs, Table
from bridge.store.records import (
    AttemptOutcome,
    AttemptRecord,
    Decision,
    DispatchState,
    DispatchTrail,
    Episode,
    EpisodeKey,
    EpisodeOutcome,
    NewDecision,
    NewDispatch,
    NewEpisode,
    Requeue,
)
from bridge.store.run_records import NewRun, ReportedResult, RunUpdate
from bridge.store.settings import StoreSettings
from tests.support.fixtures import body
from tests.support.postgres import PostgresCluster

STARTS = "2026-11-25T08:28:11.022000000Z"


# PostgreSQL is a real server: its half of the suite is an integration test.
@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> StoreSettings:
    """Where a fresh store lives, for each kind of store."""
    if request.param == "sqlite":
        return StoreSettings(path=tmp_path / "bridge.db")
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    return StoreSettings(path=tmp_path / "unused.db", postgres=cluster.database())


@pytest.fixture
def store(settings: StoreSettings) -> Iterator[Store]:
    opened = open_store(settings)
    yield opened
    opened.close()


def notification() -> Notification:
    return parse_notification(body("firing-single-bearer"))


def new_episode(txn: Transaction, n: int, dispatch_id: str | None = None) -> Episode:
    notification_id = add_notification(txn, 1.0, "127.0.0.1", "test")
    return txn.add_episode(
        NewEpisode(
            key=EpisodeKey("retrain", f"fp{n}", STARTS),
            labels={"model": f"m{n}"},
            cooldown_key=f'{{"model":"m{n}"}}',
            state=AlertStatus.FIRING,
            outcome=EpisodeOutcome.DISPATCHED if dispatch_id else EpisodeOutcome.COOLDOWN_SKIPPED,
            dispatch_id=dispatch_id,
            notification_id=notification_id,
            opened_at=100.0 + n,
        )
    )


def add_dispatch(store: Store, n: int, created_at: float = 100.0) -> str:
    """An episode with a pending dispatch ``d<n>``, due at ``created_at``."""
    dispatch_id = f"d{n}"

    def work(txn: Transaction) -> None:
        episode = new_episode(txn, n, dispatch_id)
        txn.add_dispatch(
            NewDispatch(
                id=dispatch_id,
                episode_id=episode.id,
                kind=AlertStatus.FIRING,
                route="retrain",
                target="hook",
                target_type="webhook",
                state=DispatchState.PENDING,
                context_json=json.dumps({"labels": {"model": f"m{n}"}}),
                request_json='{"url": "http://127.0.0.1:9/hook"}',
                error=None,
                reason=None,
                created_at=created_at,
                deadline_at=created_at + 3600,
            )
        )

    store.atomically(work)
    return dispatch_id


def add_notification(
    txn: Transaction, at: float, remote_addr: str | None, user_agent: str | None
) -> int:
    return txn.add_notification(
        notification(), received_at=at, payload="{}", remote_addr=remote_addr, user_agent=user_agent
    )


def trail(store: Store, dispatch_id: str) -> DispatchTrail:
    found = store.get_dispatch(dispatch_id)
    assert found is not None
    return found


def attempt(
    dispatch_id: str, outcome: str, at: float, next_at: float | None = None
) -> AttemptRecord:
    return AttemptRecord(
        dispatch_id=dispatch_id,
        attempt=1,
        started_at=at,
        finished_at=at + 0.5,
        outcome=AttemptOutcome(outcome),
        reason=None if outcome == "success" else "server_error",
        status=200 if outcome == "success" else 503,
        message="ok" if outcome == "success" else "HTTP 503",
        response=None,
        details={"build": 7} if outcome == "success" else None,
        next_attempt_at=next_at,
    )


def counters(store: Store) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (name, tuple(sorted(labels.items()))): value for name, labels, value in store.counters()
    }


# --- schema -------------------------------------------------------------------------------


def test_a_new_store_has_the_latest_schema_and_migrating_again_does_nothing(
    store: Store, settings: StoreSettings
) -> None:
    assert store.schema_version() == latest(migrations_for(settings))
    assert store.migrate() == []


# --- intake -------------------------------------------------------------------------------


def test_an_episode_is_found_by_its_key_inside_and_outside_a_transaction(store: Store) -> None:
    with store.transaction() as txn:
        added = new_episode(txn, 1)
        assert txn.find_episode(added.key) == added
    assert store.find_episode(added.key) == added
    assert store.find_episode(EpisodeKey("retrain", "other", STARTS)) is None
    assert (added.state, added.outcome, added.dispatch_id) == ("firing", "cooldown_skipped", None)


def test_notification_ids_increase(store: Store) -> None:
    first = store.atomically(lambda txn: add_notification(txn, 1.0, None, None))
    second = store.atomically(lambda txn: add_notification(txn, 2.0, None, None))
    assert second > first


def test_a_second_episode_with_the_same_key_is_refused(store: Store) -> None:
    store.atomically(lambda txn: new_episode(txn, 1))
    with pytest.raises(StoreError):
        store.atomically(lambda txn: new_episode(txn, 1))


def test_concurrent_intakes_commit_and_a_failing_one_alone_is_rolled_back(store: Store) -> None:
    results: dict[int, object] = {}

    def intake(n: int) -> None:
        def work(txn: Transaction) -> int:
            txn.count("intakes", {"kind": "test"})
            added = new_episode(txn, n)
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
        assert (store.find_episode(EpisodeKey("retrain", f"fp{n}", STARTS)) is None) == (
            n in failed
        )
    assert counters(store)[("intakes", (("kind", "test"),))] == 20


def test_the_last_dispatch_of_a_cooldown_key_is_the_latest(store: Store) -> None:
    with store.transaction() as txn:
        assert txn.last_dispatch("retrain", '{"model":"m1"}') is None
        new_episode(txn, 1, "d-first")
        assert txn.last_dispatch("retrain", '{"model":"m1"}') == (101.0, "d-first")
        assert txn.last_dispatch("other-route", '{"model":"m1"}') is None


def test_an_episode_is_closed_once(store: Store) -> None:
    with store.transaction() as txn:
        episode = new_episode(txn, 1)
        assert txn.close_episode(episode.id, 200.0, "2026-11-25T09:00:00Z")
        assert not txn.close_episode(episode.id, 201.0, None)
    found = store.find_episode(episode.key)
    assert found is not None
    assert found.state == "resolved"


def test_a_dispatch_is_listed_and_shown_with_its_decisions(store: Store) -> None:
    def work(txn: Transaction) -> None:
        notification_id = add_notification(txn, 1.0, "10.0.0.1", "AM/0.25")
        episode = txn.add_episode(
            NewEpisode(
                EpisodeKey("retrain", "fp1", STARTS),
                {"model": "m1"},
                "{}",
                AlertStatus.FIRING,
                EpisodeOutcome.DISPATCHED,
                "d1",
                notification_id,
                100.0,
            )
        )
        txn.add_dispatch(
            NewDispatch(
                id="d1",
                episode_id=episode.id,
                kind=AlertStatus.FIRING,
                route="retrain",
                target="hook",
                target_type="webhook",
                state=DispatchState.PENDING,
                context_json='{"labels": {"model": "m1"}, "value": "0.3"}',
                request_json='{"url": "u"}',
                error=None,
                reason=None,
                created_at=100.0,
                deadline_at=200.0,
            )
        )
        txn.add_decision(
            NewDecision(
                notification_id=notification_id,
                alert_index=0,
                fingerprint="fp1",
                starts_at=STARTS,
                alert_status="firing",
                route="retrain",
                decision=Decision("new_episode"),
                reason="new episode",
                episode_id=episode.id,
                dispatch_id="d1",
                decided_at=100.0,
            )
        )

    store.atomically(work)
    add_dispatch(store, 2, created_at=150.0)
    listed = store.list_dispatches(None, None, 10, 0)
    assert [row.id for row in listed] == ["d2", "d1"]  # newest first
    assert [row.id for row in store.list_dispatches("pending", "retrain", 1, 1)] == ["d1"]
    assert store.list_dispatches("dead", None, 10, 0) == []
    shown = store.get_dispatch("d1")
    assert shown is not None
    assert shown.summary.labels == {"model": "m1"}
    assert shown.request == {"url": "u"}
    assert [(d.decision, d.remote_addr) for d in shown.decisions] == [("new_episode", "10.0.0.1")]
    assert shown.alert["value"] == "0.3"
    assert store.get_dispatch("nope") is None


# --- the outbox ---------------------------------------------------------------------------


def test_due_dispatches_are_leased_once_until_the_lease_expires(store: Store) -> None:
    for n in range(3):
        add_dispatch(store, n, created_at=100.0)
    add_dispatch(store, 9, created_at=500.0)  # not due yet
    first = store.claim_due(110.0, "a", 30.0, 2)
    second = store.claim_due(110.0, "b", 30.0, 10)
    assert len(first) == 2
    assert len(second) == 1
    assert {c.id for c in first} | {c.id for c in second} == {"d0", "d1", "d2"}
    assert all(c.attempt == 1 and c.fingerprint.startswith("fp") for c in first + second)
    assert first[0].request == {"url": "http://127.0.0.1:9/hook"}
    assert store.claim_due(120.0, "c", 30.0, 10) == []
    # A's lease runs out (it died): C takes over, as attempt 2.
    taken = store.claim_due(141.0, "c", 30.0, 10)
    assert {c.id for c in taken} == {"d0", "d1", "d2"}
    assert {c.attempt for c in taken} == {2}


def test_a_renewed_lease_is_kept(store: Store) -> None:
    add_dispatch(store, 1)
    (claimed,) = store.claim_due(110.0, "a", 30.0, 10)
    store.renew_leases("a", [claimed.id], 200.0)
    store.renew_leases("b", [claimed.id], 1000.0)  # not b's lease: no effect
    assert store.claim_due(199.0, "c", 30.0, 10) == []
    assert [c.id for c in store.claim_due(201.0, "c", 30.0, 10)] == [claimed.id]


def test_attempts_move_a_dispatch_on_and_are_counted(store: Store) -> None:
    add_dispatch(store, 1)
    add_dispatch(store, 2)
    claimed = {c.id: c for c in store.claim_due(110.0, "a", 30.0, 10)}
    store.finish_attempt(attempt("d1", "retry", 110.0, next_at=115.0), "a", "hook")
    store.finish_attempt(attempt("d2", "success", 110.0), "a", "hook")
    assert trail(store, "d2").summary.state == "succeeded"
    retried = store.get_dispatch("d1")
    assert retried is not None
    assert retried.summary.state == "pending"
    assert [a.outcome for a in retried.attempts] == ["retry"]
    assert store.claim_due(114.0, "a", 30.0, 10) == []
    (again,) = store.claim_due(116.0, "a", 30.0, 10)
    assert again.attempt == claimed["d1"].attempt + 1
    store.finish_attempt(attempt("d1", "failed", 116.0), "a", "hook")
    assert trail(store, "d1").summary.state == "dead"
    counts = counters(store)
    assert (
        counts[("drift_bridge_dispatches_total", (("outcome", "succeeded"), ("target", "hook")))]
        == 1
    )
    assert counts[("drift_bridge_dispatches_total", (("outcome", "dead"), ("target", "hook")))] == 1
    assert (
        counts[
            (
                "drift_bridge_dispatch_attempts_total",
                (("outcome", "retry"), ("reason", "server_error"), ("target", "hook")),
            )
        ]
        == 1
    )
    assert counts[("drift_bridge_dispatch_latency_seconds_count", (("target", "hook"),))] == 1
    assert trail(store, "d2").attempts[0].details == {"build": 7}


def test_only_the_lease_holder_moves_a_dispatch_on(store: Store) -> None:
    add_dispatch(store, 1)
    store.claim_due(110.0, "a", 30.0, 10)
    store.claim_due(150.0, "b", 30.0, 10)  # a stalled past its lease; b took over
    store.finish_attempt(attempt("d1", "success", 151.0), "a", "hook")
    shown = store.get_dispatch("d1")
    assert shown is not None
    assert shown.summary.state == "sending"
    # a's attempt is on the record all the same: as unknown when b took over, then as it ended.
    assert [a.outcome for a in shown.attempts] == [AttemptOutcome.UNKNOWN, AttemptOutcome.SUCCESS]


def test_a_dead_dispatch_is_requeued_once_with_the_new_target(store: Store) -> None:
    add_dispatch(store, 1)
    store.claim_due(110.0, "a", 30.0, 10)
    store.finish_attempt(attempt("d1", "failed", 110.0), "a", "hook")
    for_retry = store.dispatch_for_retry("d1")
    assert for_retry is not None
    assert (for_retry.state, for_retry.route, for_retry.context) == (
        "dead",
        "retrain",
        {"labels": {"model": "m1"}},
    )
    assert store.dispatch_for_retry("nope") is None
    assert not store.requeue(Requeue("d1", "b", "jenkins", None, "cannot build", 120.0, 999.0))
    assert store.requeue(Requeue("d1", "b", "jenkins", {"url": "x"}, None, 120.0, 999.0))
    assert not store.requeue(Requeue("d1", "b", "jenkins", {"url": "x"}, None, 120.0, 999.0))
    (claimed,) = store.claim_due(121.0, "a", 30.0, 10)
    assert (claimed.target, claimed.target_type, claimed.request) == ("b", "jenkins", {"url": "x"})
    assert claimed.attempt - claimed.retry_from == 1
    assert counters(store)[("drift_bridge_dispatch_retries_requested_total", ())] == 1


def test_the_outbox_reports_pending_and_dead(store: Store) -> None:
    assert store.outbox(100.0).pending == 0
    add_dispatch(store, 1, created_at=100.0)
    add_dispatch(store, 2, created_at=130.0)
    stats = store.outbox(160.0)
    assert (stats.pending, stats.oldest_pending_age, stats.dead) == (2, 60.0, 0)


def test_ping_answers_and_close_releases(settings: StoreSettings) -> None:
    opened = open_store(settings)
    opened.ping()
    opened.close()


# --- several replicas on one store ----------------------------------------------------------


def test_replicas_claiming_together_never_lease_the_same_dispatch(settings: StoreSettings) -> None:
    replicas = [open_store(settings) for _ in range(3)]
    try:
        for n in range(60):
            add_dispatch(replicas[n % 3], n)
        claimed: list[list[str]] = [[] for _ in replicas]

        def claim(index: int) -> None:
            while batch := replicas[index].claim_due(110.0, f"r{index}", 30.0, 4):
                claimed[index].extend(c.id for c in batch)

        threads = [threading.Thread(target=claim, args=(i,)) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        every = [dispatch_id for ids in claimed for dispatch_id in ids]
        assert sorted(every) == sorted(f"d{n}" for n in range(60))
    finally:
        for replica in replicas:
            replica.close()


def test_replicas_deciding_about_one_episode_at_once_create_it_once(
    settings: StoreSettings,
) -> None:
    replicas = [open_store(settings) for _ in range(3)]
    created: list[bool] = []
    errors: list[BaseException] = []
    start = threading.Barrier(12)

    def decide(txn: Transaction) -> bool:
        if txn.find_episode(EpisodeKey("retrain", "fp0", STARTS)) is not None:
            return False
        time.sleep(0.01)  # look, then insert: the window the locks close
        new_episode(txn, 0)
        return True

    def intake(index: int) -> None:
        start.wait()
        try:
            created.append(replicas[index % 3].atomically(decide, locks=["episode-fp-race"]))
        except BaseException as err:
            errors.append(err)

    try:
        threads = [threading.Thread(target=intake, args=(i,)) for i in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for replica in replicas:
            replica.close()
    assert errors == []
    assert sorted(created) == [False] * 11 + [True]


def test_replicas_of_one_store_share_its_identity_and_other_stores_differ(
    settings: StoreSettings, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    one, two = open_store(settings), open_store(settings)
    try:
        assert one.identity() == two.identity()
        assert len(one.identity()) == 32
    finally:
        one.close()
        two.close()
    again = open_store(settings)
    first = again.identity()
    again.close()
    other = open_store(StoreSettings(path=tmp_path / "other.db"))
    assert other.identity() != first
    other.close()


def test_a_dispatch_added_by_one_replica_wakes_the_others(settings: StoreSettings) -> None:
    if settings.postgres is None:
        pytest.skip("SQLite is one host: its processes poll")
    one, other = open_store(settings), open_store(settings)
    woken = threading.Event()
    try:
        other.watch_outbox(woken.set)
        time.sleep(0.5)  # the listener's first look
        woken.clear()
        add_dispatch(one, 1)
        assert woken.wait(10)
    finally:
        one.close()
        other.close()


# --- retention ----------------------------------------------------------------------------

OLD, NOW = 1_000.0, 1_000_000.0
CUTOFFS = Cutoffs(notifications=NOW - 100, attempts=NOW - 100)


def old_episode(store: Store, n: int, state: DispatchState | None, resolved: bool) -> None:
    """An episode from long ago, with a dispatch in ``state`` (None: no dispatch)."""

    def work(txn: Transaction) -> None:
        notification_id = add_notification(txn, OLD, None, None)
        dispatch_id = f"d{n}" if state is not None else None
        episode = txn.add_episode(
            NewEpisode(
                EpisodeKey("retrain", f"fp{n}", STARTS),
                {},
                "{}",
                AlertStatus.FIRING,
                EpisodeOutcome.DISPATCHED if dispatch_id else EpisodeOutcome.COOLDOWN_SKIPPED,
                dispatch_id,
                notification_id,
                OLD,
            )
        )
        txn.add_decision(
            NewDecision(
                notification_id=notification_id,
                alert_index=0,
                fingerprint=f"fp{n}",
                starts_at=STARTS,
                alert_status="firing",
                route="retrain",
                decision=Decision("new_episode"),
                reason="new",
                episode_id=episode.id,
                dispatch_id=dispatch_id,
                decided_at=OLD,
            )
        )
        if dispatch_id is not None:
            txn.add_dispatch(
                NewDispatch(
                    id=dispatch_id,
                    episode_id=episode.id,
                    kind=AlertStatus.FIRING,
                    route="retrain",
                    target="hook",
                    target_type="webhook",
                    state=DispatchState.PENDING,
                    context_json="{}",
                    request_json="{}",
                    error=None,
                    reason=None,
                    created_at=OLD,
                    deadline_at=NOW * 2,
                )
            )
        if resolved:
            txn.close_episode(episode.id, OLD + 1, None)

    store.atomically(work)
    if state in (DispatchState.SUCCEEDED, DispatchState.SENDING):
        (claimed,) = store.claim_due(OLD + 2, "a", NOW * 2, 1)
        if state == DispatchState.SUCCEEDED:
            store.finish_attempt(attempt(claimed.id, "success", OLD + 2), "a", "hook")


def test_retention_prunes_what_is_old_and_finished_and_nothing_in_use(store: Store) -> None:
    old_episode(store, 1, DispatchState.SUCCEEDED, resolved=True)  # all of it goes
    old_episode(store, 2, DispatchState.SUCCEEDED, resolved=False)  # dispatch goes, episode open
    old_episode(store, 3, DispatchState.SENDING, resolved=True)  # in flight: kept
    old_episode(store, 4, DispatchState.PENDING, resolved=True)  # pending: kept
    old_episode(store, 5, None, resolved=False)  # open, never dispatched: kept
    old_episode(store, 6, None, resolved=True)  # resolved, no dispatch: goes
    # Duplicates of open episode 5, long ago: the notification and its decision go.
    store.atomically(
        lambda txn: txn.add_decision(
            NewDecision(
                notification_id=add_notification(txn, OLD, None, None),
                alert_index=0,
                fingerprint="fp5",
                starts_at=STARTS,
                alert_status="firing",
                route="retrain",
                decision=Decision.DUPLICATE,
                reason="dup",
                episode_id=None,
                dispatch_id=None,
                decided_at=OLD,
            )
        )
    )
    total = dict.fromkeys(Table, 0)
    while True:  # batches of 1, as many as it takes
        deleted = store.prune(CUTOFFS, 1)
        for table, count in deleted.items():
            total[table] += count
        if not any(deleted.values()):
            break
    assert total == {
        Table.DISPATCHES: 2,
        Table.ATTEMPTS: 2,
        Table.ATTEMPT_CLAIMS: 2,
        Table.RUNS: 0,
        Table.EPISODES: 2,
        Table.DECISIONS: 3,
        Table.NOTIFICATIONS: 3,
    }
    assert {row.id for row in store.list_dispatches(None, None, 10, 0)} == {"d3", "d4"}
    for n, kept in ((1, False), (2, True), (3, True), (4, True), (5, True), (6, False)):
        assert (store.find_episode(EpisodeKey("retrain", f"fp{n}", STARTS)) is not None) == kept
    pruned = {
        dict(labels)["table"]: value
        for (name, labels), value in counters(store).items()
        if name == STORE_PRUNED_ROWS_TOTAL
    }
    assert pruned == {table.value: float(count) for table, count in total.items() if count}
    # Nothing younger than the cut-offs goes, and pruning again finds nothing.
    assert not any(store.prune(Cutoffs(OLD - 1, OLD - 1), 100).values())


# --- retraining runs (issue 11) -------------------------------------------------------------


def followed(store: Store, n: int, at: float = 100.0, timeout_at: float = 10_000.0) -> str:
    """A dispatch whose successful attempt started a run to follow."""
    dispatch_id = add_dispatch(store, n, created_at=at)
    [claimed] = store.claim_due(at, "w1", 60, 10)
    record = replace(
        attempt(dispatch_id, "success", at),
        attempt=claimed.attempt,
        run=NewRun(locator={"run_id": n}, timeout_at=timeout_at, verify_within=60.0),
    )
    store.finish_attempt(record, "w1", "hook")
    return dispatch_id


def test_a_run_is_recorded_with_its_attempt_and_leased_for_one_look_at_a_time(
    store: Store,
) -> None:
    dispatch_id = followed(store, 1)

    [run] = store.claim_runs(101.0, "f1", 30, 10)
    again = store.claim_runs(101.0, "f2", 30, 10)

    assert (run.dispatch_id, run.locator, run.state, run.fingerprint) == (
        dispatch_id,
        {"run_id": 1},
        "queued",
        "fp1",
    )
    assert again == []
    assert store.running_runs() == [("retrain", "hook", 1)]


def test_a_look_moves_the_run_on_and_its_completion_is_counted_once(store: Store) -> None:
    dispatch_id = followed(store, 1)
    store.claim_runs(101.0, "f1", 30, 10)
    running = RunUpdate(dispatch_id, 101.5, 131.5, state="running", etag='W/"a"', started_at=101.0)
    assert store.update_run(running, "f1")
    store.claim_runs(132.0, "f1", 30, 10)
    done = RunUpdate(
        dispatch_id,
        140.0,
        170.0,
        state="completed",
        result="failed",
        detail="failure",
        finished_at=139.0,
        duration=38.0,
    )

    assert not store.update_run(done, "someone-else")  # not the lease holder
    assert store.update_run(done, "f1")
    run = store.get_run(dispatch_id)
    assert run is not None
    assert (run["state"], run["result"], run["duration"], run["detail"]) == (
        "completed",
        "failed",
        38.0,
        "failure",
    )
    assert run["episode_outcome"] == "retraining_failed"
    values = counters(store)
    labels = (("result", "failed"), ("route", "retrain"), ("target", "hook"))
    assert values[("drift_bridge_retrainings_total", labels)] == 1.0
    assert (
        values[
            (
                "drift_bridge_episodes_total",
                (("outcome", "retraining_failed"), ("route", "retrain")),
            )
        ]
        == 1.0
    )
    assert store.running_runs() == []
    assert trail(store, dispatch_id).run is not None


def test_a_run_past_its_timeout_is_timed_out_once(store: Store) -> None:
    dispatch_id = followed(store, 1, timeout_at=200.0)

    assert store.time_out_runs(150.0) == []
    assert store.time_out_runs(201.0) == [dispatch_id]
    assert store.time_out_runs(202.0) == []
    run = store.get_run(dispatch_id)
    assert run is not None
    assert run["result"] == "timed_out"


def test_a_reported_result_is_idempotent_and_keeps_a_result_seen_first(store: Store) -> None:
    dispatch_id = followed(store, 1)

    first = store.report_result(ReportedResult(dispatch_id, "succeeded", "v1", None, 150.0, 60.0))
    second = store.report_result(ReportedResult(dispatch_id, "failed", "v2", "u", 160.0, 60.0))

    assert first is not None
    assert second is not None
    run = store.get_run(dispatch_id)
    assert run is not None
    assert (run["result"], run["model_version"], run["reported_url"]) == ("succeeded", "v2", "u")
    assert store.report_result(ReportedResult("nope", "failed", None, None, 1.0, 60.0)) is None
    assert store.settle_episodes(150.0 + 61.0) == 1  # never resolved: drift persisted
    run = store.get_run(dispatch_id)
    assert run is not None
    assert run["episode_outcome"] == "drift_persisted"


def test_an_attempt_lost_with_its_process_is_recorded_and_the_next_knows_it(
    store: Store,
) -> None:
    dispatch_id = add_dispatch(store, 1)
    [lost] = store.claim_due(100.0, "dead-worker", 10, 10)
    [next_one] = store.claim_due(111.0, "w2", 10, 10)

    assert not lost.outcome_unknown
    assert next_one.outcome_unknown
    [recorded] = trail(store, dispatch_id).attempts
    assert (recorded.attempt, recorded.outcome) == (1, AttemptOutcome.UNKNOWN)
    assert recorded.message.startswith("outcome unknown (process died)")


def test_a_failed_run_of_a_firing_episode_is_redispatched_once(store: Store) -> None:
    dispatch_id = followed(store, 1)
    store.claim_runs(101.0, "f1", 30, 10)
    store.update_run(
        RunUpdate(dispatch_id, 102.0, None, state="completed", result="failed", finished_at=102.0),
        "f1",
    )
    [failed] = store.failed_runs("retrain", 200.0)
    episode_id = failed.episode_id
    new = NewDispatch(
        id="d1-again",
        episode_id=episode_id,
        kind=AlertStatus.FIRING,
        route="retrain",
        target="hook",
        target_type="webhook",
        state=DispatchState.PENDING,
        context_json="{}",
        request_json='{"url": "http://127.0.0.1:9/hook"}',
        error=None,
        reason=None,
        created_at=200.0,
        deadline_at=3800.0,
    )

    assert store.add_redispatch(dispatch_id, new, 2)
    assert not store.add_redispatch(dispatch_id, new, 2)
    assert store.failed_runs("retrain", 300.0) == []
    assert trail(store, "d1-again").summary.kind == AlertStatus.FIRING

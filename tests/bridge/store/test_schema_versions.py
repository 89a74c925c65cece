"""Schema versions: a release 0.1 store is upgraded with its data; a newer store is refused."""

import sqlite3
import threading
from pathlib import Path

import pytest

from bridge.store import SQLiteStore, StoreError
from bridge.store.postgres import PostgresStore
from bridge.store.postgres_schema import MIGRATIONS as POSTGRES_MIGRATIONS
from bridge.store.schema import MIGRATIONS as SQLITE_MIGRATIONS
from bridge.store.settings import PostgresSettings
from tests.support.postgres import PostgresCluster

RELEASE_0_1 = Path(__file__).parents[2] / "fixtures" / "store" / "sqlite-release-0.1.sql"


def test_both_stores_are_at_the_same_version() -> None:
    assert [m.version for m in SQLITE_MIGRATIONS] == [m.version for m in POSTGRES_MIGRATIONS]


def test_a_store_made_by_release_0_1_is_upgraded_with_its_data_kept(tmp_path: Path) -> None:
    path = tmp_path / "bridge.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(RELEASE_0_1.read_text())
    store = SQLiteStore(path)
    assert store.schema_version() == SQLITE_MIGRATIONS[-1].version
    (listed,) = store.list_dispatches(None, None, 10, 0)
    assert (listed.id, listed.state, listed.labels["model"]) == (
        "d-0123456789abcdef",
        "succeeded",
        "churn",
    )
    shown = store.get_dispatch("d-0123456789abcdef")
    assert shown is not None
    assert [d.decision for d in shown.decisions] == ["new_episode"]
    assert shown.attempts[0].details == {"queue_url": "http://jenkins/queue/item/7/"}
    totals = {name: value for name, _, value in store.counters()}
    assert totals["drift_bridge_dispatches_total"] == 1
    with sqlite3.connect(path) as conn:
        indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert {"notifications_received", "attempts_finished"} <= indexes
    # The same file opened again: nothing more to do.
    assert SQLiteStore(path).migrate() == []


def test_a_sqlite_store_newer_than_the_code_is_refused_naming_both_versions(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bridge.db"
    SQLiteStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    code = SQLITE_MIGRATIONS[-1].version
    with pytest.raises(
        StoreError, match=f"schema version 99, newer than this drift-bridge's {code}"
    ):
        SQLiteStore(path)


@pytest.mark.integration
def test_a_postgresql_store_newer_than_the_code_is_refused_naming_both_versions(
    postgres_cluster: PostgresCluster, postgres_settings: PostgresSettings
) -> None:
    PostgresStore(postgres_settings).close()
    with postgres_cluster.connect(postgres_settings.url.rsplit("/", 1)[1]) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    code = POSTGRES_MIGRATIONS[-1].version
    for migrate in (True, False):
        with pytest.raises(StoreError, match=f"version 99, newer than this drift-bridge's {code}"):
            PostgresStore(postgres_settings, migrate=migrate)


@pytest.mark.integration
def test_replicas_starting_together_create_the_schema_once(
    postgres_settings: PostgresSettings,
) -> None:
    opened: list[PostgresStore] = []
    failures: list[BaseException] = []

    def start() -> None:
        try:
            opened.append(PostgresStore(postgres_settings))
        except BaseException as err:
            failures.append(err)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert {store.schema_version() for store in opened} == {POSTGRES_MIGRATIONS[-1].version}
    for store in opened:
        store.close()

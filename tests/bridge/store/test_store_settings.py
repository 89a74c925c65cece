"""``store:``: a SQLite path or a PostgreSQL URL, checked at start; the password never shown."""

from pathlib import Path
from typing import Any

import pytest

from bridge.cli import main
from bridge.config_reader import ConfigError
from bridge.credentials import Secret
from bridge.store import StoreError
from bridge.store.postgres import PostgresStore
from bridge.store.settings import PostgresSettings
from demo.harness.processes import wait_until
from tests.support.bridge import ConfigWriter
from tests.support.postgres import PASSWORD, SUPERUSER, PostgresCluster


def problems(write_config: ConfigWriter, data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        write_config(data)
    return caught.value.problems


def test_a_postgresql_url_with_a_password_file(
    write_config: ConfigWriter, config_data: dict[str, Any], tmp_path: Path
) -> None:
    (tmp_path / "pg.password").write_text("hunter2\n")
    config_data["store"] = {
        "url": "postgresql://drift_bridge@db.example.com:5432/drift_bridge?sslmode=require",
        "password_file": "pg.password",
    }
    config = write_config(config_data)
    assert config.store.postgres is not None
    assert config.store.postgres.password is not None
    assert config.store.postgres.password.get() == "hunter2"
    assert config.store.display == "postgresql://drift_bridge@db.example.com:5432/drift_bridge"
    assert "hunter2" not in repr(config)


def test_the_password_can_come_from_the_environment(
    write_config: ConfigWriter, config_data: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRIDGE_PG_PASSWORD", "from-env")
    config_data["store"] = {"url": "postgresql://u@db/x", "password_env": "BRIDGE_PG_PASSWORD"}
    settings = write_config(config_data).store.postgres
    assert settings is not None
    assert settings.password is not None
    assert settings.password.get() == "from-env"


@pytest.mark.parametrize(
    ("store", "expected"),
    [
        (
            {"path": "bridge.db", "url": "postgresql://u@db/x"},
            "store.url: set only one of store.path (SQLite) and store.url (PostgreSQL)",
        ),
        ({"url": "mysql://u@db/x"}, "store.url: must start with postgresql://"),
        (
            {"url": "postgresql://u:hunter2@db/x"},
            "store.url: must not contain a password; use store.password_file",
        ),
        (
            {"url": "postgresql://u@db/x?password=hunter2"},
            "store.url: must not contain a password",
        ),
        ({"url": "postgresql://u@db:99999/x"}, "store.url: is not a valid URL"),
        ({"path": "bridge.db", "password_env": "X"}, "store.password_env: only applies to"),
        (
            {"url": "postgresql://u@db/x", "password_file": "missing.password"},
            "store.password_file: cannot read secret",
        ),
        ({"url": "postgresql://u@db/x", "pool_size": 1}, "store.pool_size: must be at least 2"),
        ({"url": "postgresql://u@db/x", "passwrd_file": "p"}, "store.passwrd_file: unknown"),
    ],
)
def test_bad_store_settings_name_the_key_and_the_file(
    write_config: ConfigWriter,
    config_data: dict[str, Any],
    store: dict[str, Any],
    expected: str,
    tmp_path: Path,
) -> None:
    config_data["store"] = store
    found = problems(write_config, config_data)
    assert any(expected in problem for problem in found), found
    assert all(problem.startswith(str(tmp_path / "bridge.yml")) for problem in found)
    assert not any("hunter2" in problem for problem in found)


def test_check_config_shows_the_database_not_the_password(
    write_config: ConfigWriter,
    config_data: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "pg.password").write_text("hunter2\n")
    config_data["store"] = {"url": "postgresql://u@db:5432/x", "password_file": "pg.password"}
    write_config(config_data)
    assert main(["check-config", "--config.file", str(tmp_path / "bridge.yml")]) == 0
    out = capsys.readouterr().out
    assert "store postgresql://u@db:5432/x" in out
    assert "hunter2" not in out


@pytest.mark.integration
def test_migrate_and_errors_never_show_the_password(
    write_config: ConfigWriter,
    config_data: dict[str, Any],
    tmp_path: Path,
    postgres_cluster: PostgresCluster,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = postgres_cluster.database()
    config_data["store"] = {
        "url": settings.url,
        "password_file": str(postgres_cluster.password_file),
    }
    write_config(config_data)
    argv = ["migrate", "--config.file", str(tmp_path / "bridge.yml")]
    assert main(argv) == 0
    assert "upgraded to schema version" in capsys.readouterr().out
    assert main(argv) == 0
    assert "up to date" in capsys.readouterr().out
    # A wrong password: the error says who could not log in, and shows no password.
    (tmp_path / "wrong.password").write_text("not-" + PASSWORD)
    config_data["store"]["password_file"] = "wrong.password"
    write_config(config_data)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "password authentication failed" in err
    assert PASSWORD not in err
    assert PASSWORD not in caplog.text


@pytest.mark.integration
def test_a_rotated_database_password_takes_effect_without_a_restart(
    postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    settings = postgres_cluster.database()
    database = settings.url.rsplit("/", 1)[1]
    password_file = tmp_path / "rotator.password"
    password_file.write_text("first-Secret-1\n")
    with postgres_cluster.connect() as admin:
        admin.execute("DROP ROLE IF EXISTS rotator")
        admin.execute("CREATE ROLE rotator LOGIN PASSWORD 'first-Secret-1'")
        admin.execute(f'ALTER DATABASE "{database}" OWNER TO rotator')
    url = settings.url.replace(f"{SUPERUSER}@", "rotator@")
    store = PostgresStore(
        PostgresSettings(url=url, password=Secret(file=password_file, max_age=0.0))
    )
    try:
        store.ping()
        with postgres_cluster.connect() as admin:
            admin.execute("ALTER ROLE rotator PASSWORD 'second-Secret-2'")
            password_file.write_text("second-Secret-2\n")
            # Every connection of the old password goes (a restart of the database would too).
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'rotator'"
            )

        def answers() -> bool | None:
            try:
                store.ping()
                return True
            except StoreError:
                return None

        assert wait_until(answers, 30, "the store to answer with the new password", interval=0.2)
    finally:
        store.close()

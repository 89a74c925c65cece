"""A throwaway PostgreSQL cluster for the tests: initdb in a temporary directory, a free loopback
port, password authentication, and always stopped.

initdb refuses to run as root, so when the tests run as root the cluster belongs to ``nobody``.
One cluster serves the whole session; each test gets a database of its own.
"""

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bridge.credentials import Secret
from bridge.store.settings import PostgresSettings
from demo.harness.processes import free_port

SUPERUSER = "postgres"
PASSWORD = "pg-test-Secret-7f3a"  # the tests assert it never shows up anywhere


def postgres_bin() -> Path:
    """The directory of initdb/pg_ctl: $PG_BIN, Debian's newest /usr/lib/postgresql/*/bin, PATH."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb is None:
        pytest.fail("PostgreSQL is not installed: apt-get install postgresql (make test does)")
    return Path(initdb).parent


def _version(path: str) -> int:
    return int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0


class PostgresCluster:
    """A running cluster; ``database()`` makes a fresh database and returns its settings."""

    def __init__(self, root: Path, durable: bool = False) -> None:
        self.root = root
        # Tests run without fsync (a stopped server loses nothing; only a lost host would);
        # benchmarks turn it on, as in production.
        self.durable = durable
        self.data = root / "data"
        self.port = free_port()
        self.host = "127.0.0.1"
        self.password_file = root / "password"
        self._bin = postgres_bin()
        self._user: dict[str, Any] = {}
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            self._user = {"user": nobody.pw_uid, "group": nobody.pw_gid}
        self._names = itertools.count(1)

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self._bin / argv[0]), *argv[1:]],
            check=check,
            capture_output=True,
            text=True,
            timeout=120,
            **self._user,
        )

    def init(self) -> None:
        """initdb with password authentication over TCP only."""
        self.password_file.write_text(PASSWORD + "\n")
        if self._user:
            os.chown(self.root, self._user["user"], self._user["group"])
            os.chown(self.password_file, self._user["user"], self._user["group"])
        self.password_file.chmod(0o600)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            f"--pwfile={self.password_file}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--no-sync",
        )

    def start(self) -> None:
        """Start the server (and wait until it accepts connections)."""
        options = (
            f"-c listen_addresses={self.host} -c port={self.port} -c unix_socket_directories=''"
            " -c max_connections=200"
        )
        if not self.durable:
            options += " -c fsync=off -c full_page_writes=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate``: as if it crashed)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def restart(self, mode: str = "fast") -> None:
        """Stop and start again on the same port."""
        self.stop(mode)
        self.start()

    def log(self) -> str:
        """The server's log so far."""
        path = self.root / "log"
        return path.read_text(errors="replace") if path.exists() else ""

    def admin_url(self, database: str = "postgres") -> str:
        """A libpq URL (without the password) for ``database``."""
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection[Any]:
        """A superuser connection in autocommit mode."""
        return psycopg.connect(self.admin_url(database), password=PASSWORD, autocommit=True)

    def database(self) -> PostgresSettings:
        """A new empty database, as the settings a bridge config would give."""
        name = f"bridge_{os.getpid()}_{next(self._names)}"
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return PostgresSettings(
            url=self.admin_url(name), password=Secret(file=self.password_file), pool_size=8
        )


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One PostgreSQL server for the session, in a temporary directory, always stopped."""
    root = Path(tempfile.mkdtemp(prefix="drift-bridge-pg-"))
    cluster = PostgresCluster(root)
    try:
        cluster.init()
        for attempt in range(3):
            try:
                cluster.start()
                break
            except subprocess.CalledProcessError:
                # Another program on this shared machine took the free port meanwhile.
                if attempt == 2:
                    raise RuntimeError(
                        f"PostgreSQL did not start:\n{cluster.log()[-3000:]}"
                    ) from None
                cluster.port = free_port()
        yield cluster
    finally:
        cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_settings(postgres_cluster: PostgresCluster) -> PostgresSettings:
    """A fresh, empty database of the session's cluster."""
    return postgres_cluster.database()

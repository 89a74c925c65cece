"""The ``store:`` section: a SQLite file (the embedded default) or a PostgreSQL URL.

```yaml
store:
  url: postgresql://drift_bridge@db.example.com:5432/drift_bridge   # no password in it
  password_file: /etc/drift-bridge/postgres.password                 # or password_env
```
"""

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from bridge.config_reader import Reader
from bridge.credentials import Secret, read_secret

DEFAULT_PATH = "drift-bridge.db"
# libpq parameters that carry a secret: they belong in password_file/password_env instead.
_SECRET_PARAMETERS = {"password", "sslpassword"}


@dataclass(frozen=True)
class PostgresSettings:
    """Where the shared PostgreSQL store is and how to authenticate; repr shows no secret."""

    url: str  # a libpq URL without a password
    password: Secret | None  # None: libpq finds it (~/.pgpass, a client certificate, trust)
    pool_size: int = 8
    connect_timeout: float = 5.0

    @property
    def display(self) -> str:
        """The URL without its query, for logs and check-config."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}{parts.path}"


@dataclass(frozen=True)
class StoreSettings:
    """Exactly one of ``path`` (SQLite) and ``postgres``."""

    path: Path
    postgres: PostgresSettings | None = None

    @property
    def display(self) -> str:
        """Where the store is, for logs and check-config (never a secret)."""
        return self.postgres.display if self.postgres is not None else str(self.path)


def read_store(reader: Reader) -> StoreSettings:
    """The validated ``store:`` mapping; problems name the key and the file."""
    has_path, has_url = reader.has("path"), reader.has("url")
    path = reader.file_path("path", DEFAULT_PATH)
    url = reader.string("url", None)
    if has_path and has_url:
        reader.problem("url", "set only one of store.path (SQLite) and store.url (PostgreSQL)")
    postgres = None
    if url is not None and _valid_url(reader, url):
        password = read_secret(reader, "password", required=False)
        postgres = PostgresSettings(
            url=url,
            password=password,
            pool_size=reader.integer("pool_size", 8, minimum=2),
            connect_timeout=reader.duration("connect_timeout", 5.0, minimum=0.1),
        )
    for key in ("password_file", "password_env", "pool_size", "connect_timeout"):
        if reader.has(key) and not has_url:
            reader.problem(key, "only applies to a PostgreSQL store (store.url)")
    reader.reject_unknown()
    return StoreSettings(path=Path(path or DEFAULT_PATH), postgres=postgres)


def _valid_url(reader: Reader, url: str) -> bool:
    # The URL itself is never echoed: a password typed into it by mistake must not reach a log.
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        reader.problem("url", "is not a valid URL (expected postgresql://user@host:port/database)")
        return False
    if parts.scheme not in ("postgresql", "postgres"):
        reader.problem("url", "must start with postgresql:// (a libpq connection URL)")
        return False
    if parts.password is not None or _SECRET_PARAMETERS & {k for k, _ in parse_qsl(parts.query)}:
        reader.problem(
            "url", "must not contain a password; use store.password_file or store.password_env"
        )
        return False
    if port == 0:
        reader.problem("url", "port must be between 1 and 65535")
        return False
    return True

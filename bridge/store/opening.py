"""Open the store the configuration names: SQLite (the default) or PostgreSQL."""

from collections.abc import Sequence

from bridge.store import postgres_schema, schema
from bridge.store.base import Store
from bridge.store.migrations import Migration
from bridge.store.settings import StoreSettings
from bridge.store.sqlite import SQLiteStore


def open_store(settings: StoreSettings, migrate: bool = True) -> Store:
    """The configured store, its schema created or upgraded unless ``migrate`` is False."""
    if settings.postgres is not None:
        # Imported here: a SQLite-only installation never loads psycopg.
        from bridge.store.postgres import PostgresStore

        return PostgresStore(settings.postgres, migrate=migrate)
    return SQLiteStore(settings.path)


def migrations_for(settings: StoreSettings) -> Sequence[Migration]:
    """The schema migrations of the configured kind of store."""
    return postgres_schema.MIGRATIONS if settings.postgres is not None else schema.MIGRATIONS

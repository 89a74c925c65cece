"""Numbered schema migrations and the version check both stores make before they serve.

Each store keeps its version in ``meta`` (``key = 'schema_version'``). A store older than the code
is upgraded (``drift-bridge migrate``, or ``serve`` at start); one newer than the code is refused,
since this release would not know what the newer columns mean.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from bridge.store.base import StoreError


@dataclass(frozen=True)
class Migration:
    """The SQL that takes a store from ``version - 1`` to ``version``."""

    version: int
    description: str
    sql: str


def latest(migrations: Sequence[Migration]) -> int:
    """The version the code writes."""
    return migrations[-1].version


def pending(found: int, migrations: Sequence[Migration], where: str) -> list[Migration]:
    """The migrations a store at version ``found`` still needs; StoreError if it is newer."""
    code = latest(migrations)
    if found > code:
        raise StoreError(
            f"store {where} has schema version {found}, newer than this drift-bridge's {code}:"
            " upgrade drift-bridge (a newer release wrote it), or point it at another store"
        )
    return [m for m in migrations if m.version > found]

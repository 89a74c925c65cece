"""Durable storage of notifications, decisions, episodes and the dispatch outbox."""

from bridge.store.base import OutboxStats, Store, StoreError, Transaction
from bridge.store.sqlite import SQLiteStore

__all__ = ["OutboxStats", "SQLiteStore", "Store", "StoreError", "Transaction"]

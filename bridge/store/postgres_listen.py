"""LISTEN for new dispatches, so that some replica sends one the moment it is committed."""

import logging
import threading
from collections.abc import Callable
from typing import Any

import psycopg

from bridge.store.postgres_transaction import OUTBOX_CHANNEL

log = logging.getLogger(__name__)

# A lost connection is retried this often; polling covers the gap meanwhile.
_RECONNECT_DELAY = 1.0


class OutboxListener:
    """A thread with its own connection that calls ``wake`` on every outbox notification."""

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]], where: str) -> None:
        self._connect = connect
        self._where = where
        self._wakers: list[Callable[[], None]] = []
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def subscribe(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` (from the listener's thread) whenever a dispatch is announced."""
        self._wakers.append(wake)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="outbox-listen", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop listening (within about a second)."""
        self._stopping.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                with self._connect() as conn:
                    conn.execute(f"LISTEN {OUTBOX_CHANNEL}")
                    # Anything announced while we were away: look once.
                    self._wake_all()
                    while not self._stopping.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self._wake_all()
            except psycopg.Error as err:
                log.warning(
                    "store %s: listening for new dispatches failed (polling meanwhile): %s",
                    self._where,
                    err,
                )
                self._stopping.wait(_RECONNECT_DELAY)

    def _wake_all(self) -> None:
        for wake in self._wakers:
            wake()

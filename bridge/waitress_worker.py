"""A gunicorn worker that serves with waitress: a slow client never holds a thread.

gunicorn's ``gthread`` worker hands each new connection to a thread, which then reads the request
with blocking reads: 32 to 64 idle or trickling sockets (2 processes x 8 threads, each idle one
held 5 s, a trickling one for as long as it trickles) stopped ``/alerts`` for everyone
(``bench/slow_clients.py``). waitress reads requests in an event loop, headers and body whole,
and only then hands them to a thread; a slow socket costs a file descriptor, not a thread.

gunicorn stays the process manager (workers, restarts, signals, the ``worker_exit`` hook that
stops the dispatcher): this class replaces only how one worker serves its share of the
listening socket. Requests are still handled by the same Flask app, persisted before the 2xx.
"""

import contextlib
import os
import resource
import threading
import time
from typing import Any

from gunicorn.workers.base import Worker
from waitress import wasyncore
from waitress.server import BaseWSGIServer, create_server

# Connections one worker keeps open at most (idle and slow ones included); more wait in the
# listen backlog. Bounded by the file descriptors the process may open.
CONNECTION_LIMIT = 2000
# An idle connection (no request in progress) is closed after this long.
CHANNEL_TIMEOUT = 30
# Bodies larger than the app's own limit by this factor are refused by waitress (413) before
# they are buffered; below it, the app answers its own 413 (and counts it).
BODY_LIMIT_FACTOR = 4


def _raise_file_limit() -> int:
    """Raise the soft limit on open files to the hard one; the number usable for connections."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    # Leave room for the store, the dispatcher's connections and commands, logs.
    return max(64, min(CONNECTION_LIMIT, soft - 128))


class WaitressWorker(Worker):  # type: ignore[misc]
    """One gunicorn worker process serving its listening sockets with waitress."""

    def run(self) -> None:
        """Serve until told to stop (SIGTERM: graceful; SIGQUIT/SIGINT: at once)."""
        self._map: dict[int, Any] = {}
        server = create_server(
            self.wsgi,
            map=self._map,
            sockets=[listener.sock for listener in self.sockets],
            threads=self.cfg.threads,
            connection_limit=_raise_file_limit(),
            channel_timeout=CHANNEL_TIMEOUT,
            cleanup_interval=min(10, CHANNEL_TIMEOUT),
            backlog=self.cfg.backlog,
            max_request_body_size=BODY_LIMIT_FACTOR * self.max_body_bytes,
            asyncore_use_poll=True,  # select() stops at 1,024 descriptors
            ident="drift-bridge",
            expose_tracebacks=False,
            clear_untrusted_proxy_headers=True,
            log_untrusted_proxy_headers=False,
        )
        watcher = threading.Thread(
            target=self._watch, args=(server,), name="worker-watch", daemon=True
        )
        watcher.start()
        server.run()

    @property
    def max_body_bytes(self) -> int:
        """The app's ``max_body_bytes`` (Flask's MAX_CONTENT_LENGTH)."""
        limit = self.wsgi.config.get("MAX_CONTENT_LENGTH") if hasattr(self.wsgi, "config") else None
        return int(limit or 1024 * 1024)

    def _watch(self, server: Any) -> None:
        """Tell the arbiter this worker lives; on SIGTERM, finish what is in flight and stop."""
        while self.alive:
            self.notify()
            if os.getppid() != self.ppid:
                self.log.info("parent changed, shutting down: %s", self)
                break
            time.sleep(1.0)
        # Stop accepting: the other workers (and the next generation) take new connections.
        listeners: list[Any] = [
            obj for obj in list(self._map.values()) if isinstance(obj, BaseWSGIServer)
        ]
        for listener in listeners:
            listener.accepting = False
        deadline = time.monotonic() + max(1.0, self.cfg.graceful_timeout - 5)
        tasks = server.task_dispatcher
        while (tasks.queue or tasks.active_count) and time.monotonic() < deadline:
            self.notify()
            time.sleep(0.05)
        # Answers still being written go out on the next turns of the loop.
        time.sleep(0.2)
        tasks.shutdown(cancel_pending=True, timeout=1)
        # The loop ends when its map is empty; closing it from the loop's own thread.
        listeners[0].trigger.pull_trigger(lambda: wasyncore.close_all(self._map))

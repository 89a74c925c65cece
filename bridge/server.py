"""``drift-bridge serve``: the bridge on gunicorn, a production WSGI server.

gunicorn manages the worker processes; each serves with waitress (``bridge.waitress_worker``),
which reads whole requests before a thread runs the app, unless ``worker_class: gthread``.

Each worker process opens its own store connection and runs its own dispatcher; the store's
transactions and leases keep them from stepping on each other.
"""

import gc
import logging
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from bridge.config import BridgeConfig, WorkerClass
from bridge.dispatcher import Dispatcher
from bridge.listen import gunicorn_bind
from bridge.retention import Pruner
from bridge.store.opening import open_store
from bridge.web.app import create_app

log = logging.getLogger(__name__)
_WORKER_CLASSES = {
    WorkerClass.WAITRESS: "bridge.waitress_worker.WaitressWorker",
    WorkerClass.GTHREAD: "gthread",
}


def build_app(config: BridgeConfig) -> Flask:
    """Open the store, start a dispatcher and build the app, in the calling process."""
    # serve created or upgraded the schema before forking: workers only check it.
    store = open_store(config.store, migrate=False)
    dispatcher = Dispatcher(store, config)
    dispatcher.start()
    Pruner(store, config.retention).start()
    app = create_app(config, store, dispatcher)
    # Everything loaded so far lives as long as the process: keep the cyclic garbage collector
    # from walking it again and again, which paused requests by up to 100 ms (p99 at 200 req/s:
    # ~100 ms without, ~25 ms with).
    gc.freeze()
    return app


class _BridgeLogger(Logger):  # type: ignore[misc]
    """gunicorn's own lines through the bridge's handler: the same format (text or JSON)."""

    def setup(self, cfg: Any) -> None:
        """gunicorn's setup, then its handlers removed: its records go to the root logger."""
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            logger.propagate = True


def _worker_exit(_server: Any, worker: Any) -> None:
    app = getattr(worker, "wsgi", None)
    state = getattr(app, "extensions", {}).get("drift_bridge")
    if state is not None and state.dispatcher is not None:
        # Attempts in flight get 20 s (gunicorn's graceful timeout is 30 s); then what still runs
        # is interrupted and recorded, to be made again after the restart.
        state.dispatcher.stop(timeout=20)


class BridgeServer(BaseApplication):  # type: ignore[misc]
    """gunicorn, configured from the bridge's config instead of gunicorn's command line."""

    def __init__(self, config: BridgeConfig, log_level: str = "info") -> None:
        self._config = config
        self._log_level = log_level
        super().__init__()

    def load_config(self) -> None:
        """Translate the bridge's server settings to gunicorn's."""
        server = self._config.server
        settings = {
            "bind": [gunicorn_bind(server.listen_address)],
            "workers": server.workers,
            "worker_class": _WORKER_CLASSES[server.worker_class],
            "threads": server.threads,
            "timeout": 60,
            "graceful_timeout": 30,
            "keepalive": 5,
            "loglevel": self._log_level,
            "proc_name": "drift-bridge",
            "worker_exit": _worker_exit,
            # Our own log lines carry everything; gunicorn's access log would repeat them.
            "accesslog": None,
            "errorlog": "-",
            "logger_class": _BridgeLogger,
        }
        # gunicorn 27+ opens a control socket under $HOME by default; two bridges on one
        # machine would fight over it, and nothing here uses it.
        if "control_socket_disable" in self.cfg.settings:
            settings["control_socket_disable"] = True
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        """Called in each worker after the fork."""
        return build_app(self._config)

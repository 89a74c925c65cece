"""Serving the exporter's apps: a threaded WSGI server on a thread, stopped by signals."""

import errno
import logging
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from socketserver import ThreadingMixIn
from types import FrameType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from flask import Flask
from flask.typing import ResponseReturnValue
from prometheus_client import CollectorRegistry, make_wsgi_app
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from common.addresses import in_use

log = logging.getLogger(__name__)


def metrics_app(import_name: str, registry: CollectorRegistry) -> Flask:
    """A Flask app serving ``registry`` on ``/metrics`` and ``/-/healthy``; callers add the rest."""
    app = Flask(import_name)
    # prometheus_client's own WSGI app handles content negotiation (OpenMetrics) and gzip.
    app.wsgi_app = DispatcherMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, {"/metrics": make_wsgi_app(registry)}
    )

    @app.get("/-/healthy")
    def healthy() -> ResponseReturnValue:
        return "OK\n"

    return app


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _IPv6ThreadingServer(_ThreadingServer):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """One line per scrape is noise: say nothing."""


def stop_on_signals(stop: threading.Event) -> None:
    """Set ``stop`` on SIGTERM or SIGINT (signal handlers exist only in the main thread)."""

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)


@contextmanager
def serving(app: Flask, host: str, port: int) -> Iterator[WSGIServer]:
    """Serve ``app`` on a background thread (a thread per request) until the block ends.

    Raises OSError (e.g. address in use) before the block starts.
    """
    server_class = _IPv6ThreadingServer if ":" in host else _ThreadingServer
    try:
        server = make_server(
            host, port, app, server_class=server_class, handler_class=_QuietHandler
        )
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise in_use(host, port, "choose another with --web.listen-address") from None
        raise
    thread = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join()
        server.server_close()

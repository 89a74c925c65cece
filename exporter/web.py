"""HTTP plumbing shared by the exporter and the bridge: listen addresses and a threaded server."""

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

log = logging.getLogger(__name__)


def parse_listen_address(text: str) -> tuple[str, int]:
    """Parse a Prometheus-style ``host:port`` (``:9911`` = every interface, ``[::1]:9911``)."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit():
        raise ValueError(
            f"invalid listen address {text!r}: expected HOST:PORT, e.g. 127.0.0.1:9911"
        )
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ValueError(f"invalid listen address {text!r}: port must be in 0-65535")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host or "0.0.0.0", port


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine."""
    return host in {"localhost", "::1"} or host.startswith("127.")


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
    server = make_server(host, port, app, server_class=server_class, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join()
        server.server_close()

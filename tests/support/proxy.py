"""A recording HTTP proxy: what a load balancer in front of one bridge replica would see.

It forwards each POST to its upstream and records the body with the status it answered, so a
test knows exactly which notifications Alertmanager got a 2xx for (502 while the upstream is
down, as a load balancer answers).
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

_FORWARDED = ("Authorization", "Content-Type", "User-Agent")


@dataclass(frozen=True)
class Exchange:
    """One request through the proxy and the status it got."""

    body: str
    status: int


class ProxyLog:
    """Every exchange, in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []

    def add(self, exchange: Exchange) -> None:
        """Record one exchange."""
        with self._lock:
            self._exchanges.append(exchange)

    @property
    def exchanges(self) -> list[Exchange]:
        """A copy of everything so far."""
        with self._lock:
            return list(self._exchanges)


@contextmanager
def recording_proxy(upstream: str) -> Iterator[tuple[str, ProxyLog]]:
    """Serve on a free loopback port; yields the proxy's base URL and its log."""
    log = ProxyLog()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k: v for k in _FORWARDED if (v := self.headers.get(k)) is not None}
            try:
                answer = requests.post(upstream + self.path, data=raw, headers=headers, timeout=15)
                status, content = answer.status_code, answer.content
            except requests.RequestException:
                status, content = 502, b"upstream unavailable"
            log.add(Exchange(raw.decode("utf-8", errors="replace"), status))
            self.send_response(status)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", log
    finally:
        server.shutdown()
        thread.join()
        server.server_close()

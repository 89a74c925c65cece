"""A webhook receiver that records every request, standing in for the bridge."""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    """One recorded request."""

    path: str
    headers: dict[str, str]
    body: Any


class Recorder:
    """What the receiver got, in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[Received] = []

    def add(self, request: Received) -> None:
        """Record one request."""
        with self._lock:
            self._requests.append(request)

    @property
    def requests(self) -> list[Received]:
        """A copy of everything recorded so far."""
        with self._lock:
            return list(self._requests)


@contextmanager
def webhook_receiver(port: int = 0) -> Iterator[tuple[str, Recorder]]:
    """Serve on loopback (a free port unless given); yields the base URL and the recorder."""
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            raw = self.rfile.read(length)
            recorder.add(Received(self.path, dict(self.headers.items()), json.loads(raw)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", recorder
    finally:
        server.shutdown()
        thread.join()
        server.server_close()

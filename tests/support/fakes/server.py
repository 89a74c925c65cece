"""What every fake server shares: a Flask app on loopback, a record of requests, fault injection.

>>> with FakeJenkins() as jenkins:          # any subclass of FakeServer
...     jenkins.fail_next(2, 503)            # the next two requests get 503, whatever they are
...     jenkins.fail_next(1, 429, {"Retry-After": "7"})
...     jenkins.delay = 0.5                  # every response is held 0.5 s (0 to stop)
...     jenkins.refuse_connections()         # nothing listens on the port any more ...
...     jenkins.accept_connections()         # ... until this (same port, same state)
...     jenkins.received                     # every request so far, faulted ones included
...     jenkins.wait_for(3, timeout=5)       # block until 3 requests arrived (async senders)

The werkzeug server is used rather than ``exporter.http.serving`` because wsgiref decodes the path
and keeps no raw copy, and the fakes must see exactly how a client encoded it.
"""

import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from flask import Flask, Response, request
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


@dataclass(frozen=True)
class Received:
    """One request as the fake saw it."""

    method: str
    # The path exactly as sent (percent-encoding kept), without the query string.
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str]
    json: Any
    cookies: dict[str, str]
    # time.time() when the request arrived, for latency measurements across processes.
    at: float

    def header(self, name: str) -> str | None:
        """A header, whatever its case."""
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


@dataclass(frozen=True)
class Fault:
    """An injected answer."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None


def raw_path() -> str:
    """The current request's path exactly as the client sent it (percent-encoding kept)."""
    raw = str(request.environ.get("RAW_URI") or request.full_path)
    return raw.split("?", 1)[0]


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """One line per request is noise in test output: say nothing."""


class FakeServer:
    """Base of the fakes: subclasses register routes on ``self.app`` and render error bodies."""

    def __init__(self, name: str, prefix: str = "") -> None:
        self.app = Flask(name)
        self.prefix = prefix.rstrip("/")
        # Seconds every response is held before the request is handled.
        self.delay = 0.0
        self._lock = threading.Condition()
        self._received: list[Received] = []
        self._faults: deque[Fault] = deque()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        self.app.before_request(self._before)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Listen on a free loopback port (the same one again after refuse_connections)."""
        server = make_server(
            "127.0.0.1", self._port, self.app, threaded=True, request_handler=_QuietHandler
        )
        self._port = server.port
        # A short poll interval makes stop() (and so every test's teardown) quick.
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, name=f"fake-{self._port}"
        )
        thread.daemon = True
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop listening; connections are then refused."""
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._server.server_close()
        self._server = self._thread = None

    def refuse_connections(self) -> None:
        """Simulate a server that is down: close the listening socket."""
        self.stop()

    def accept_connections(self) -> None:
        """Listen again on the same port, with the same state."""
        if self._server is None:
            self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def root(self) -> str:
        """``http://127.0.0.1:PORT`` (no prefix)."""
        return f"http://127.0.0.1:{self._port}"

    @property
    def url(self) -> str:
        """The base URL clients are configured with (with the prefix)."""
        return self.root + self.prefix

    # -- what was received -------------------------------------------------------------------

    @property
    def received(self) -> list[Received]:
        """Every request so far, in order (faulted ones included)."""
        with self._lock:
            return list(self._received)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """Wait until at least ``count`` requests arrived; TimeoutError names how many did."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._received) >= count, timeout):
                raise TimeoutError(
                    f"{type(self).__name__}: {len(self._received)} of {count} requests "
                    f"arrived within {timeout:g}s"
                )
            return list(self._received)

    def clear_received(self) -> None:
        """Forget the requests recorded so far."""
        with self._lock:
            self._received.clear()

    # -- faults ------------------------------------------------------------------------------

    def fail_next(
        self,
        count: int = 1,
        status: int = 503,
        headers: Mapping[str, str] | None = None,
        body: str | None = None,
    ) -> None:
        """Answer the next ``count`` requests with ``status`` instead of handling them."""
        with self._lock:
            self._faults.extend([Fault(status, dict(headers or {}), body)] * count)

    def error_response(self, status: int, message: str) -> Response:
        """An error the way this service writes one (subclasses override)."""
        return Response(message, status=status, mimetype="text/plain")

    def _before(self) -> Response | None:
        received = Received(
            method=request.method,
            path=raw_path(),
            query=request.args.to_dict(),
            headers=dict(request.headers.items()),
            form=request.form.to_dict(),
            json=request.get_json(silent=True),
            cookies=dict(request.cookies),
            at=time.time(),
        )
        with self._lock:
            self._received.append(received)
            self._lock.notify_all()
            fault = self._faults.popleft() if self._faults else None
        if self.delay:
            time.sleep(self.delay)
        if fault is None:
            return None
        if fault.body is not None:
            response = Response(fault.body, status=fault.status)
        else:
            response = self.error_response(fault.status, "injected fault")
        for name, value in fault.headers.items():
            response.headers[name] = value
        return response

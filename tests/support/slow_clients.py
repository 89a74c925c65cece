"""Slow and idle clients on loopback, as an attacker (or a broken proxy) would hold them.

>>> with Attack(port, 500) as attack:   # a third idle, a third trickling headers, a third a body
...     ...                             # one byte per socket per second; closed ones reopened
...     attack.open, attack.reconnects
"""

import socket
import threading
import time

TOKEN_HEADER = b"Authorization: Bearer slow-client\r\n"
HEADER_START = b"POST /alerts HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
BODY_START = (
    b"POST /alerts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    + TOKEN_HEADER
    + b"Content-Length: 10000\r\n\r\n{"
)


class Attack:
    """``count`` slow sockets on ``port``: idle, trickling headers, trickling a body."""

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.count = count
        self.reconnects = 0
        self.open = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Attack":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _connect(self, kind: int) -> socket.socket | None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
        except OSError:
            return None
        sock.setblocking(False)
        try:
            if kind == 1:
                sock.send(HEADER_START)
            elif kind == 2:
                sock.send(BODY_START)
        except OSError:
            sock.close()
            return None
        return sock

    def _run(self) -> None:
        sockets: list[socket.socket | None] = [None] * self.count
        while not self._stop.is_set():
            started = time.monotonic()
            for index in range(self.count):
                if self._stop.is_set():
                    break
                kind = index % 3
                sock = sockets[index]
                if sock is not None:
                    try:
                        # A closed connection reads as b""; a live one has nothing to read.
                        if sock.recv(4096) == b"":
                            raise ConnectionResetError
                    except BlockingIOError:
                        pass
                    except OSError:
                        sock.close()
                        sock = None
                        self.reconnects += 1
                if sock is None:
                    sock = self._connect(kind)
                elif kind:
                    try:
                        sock.send(b"x" if kind == 1 else b" ")
                    except BlockingIOError:
                        pass
                    except OSError:
                        sock.close()
                        sock = None
                        self.reconnects += 1
                sockets[index] = sock
            self.open = sum(s is not None for s in sockets)
            self._stop.wait(max(0.0, 1.0 - (time.monotonic() - started)))
        for sock in sockets:
            if sock is not None:
                sock.close()

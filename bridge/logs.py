"""Log lines a request cannot forge: escaped, capped, redacted; as text or as JSON.

Fingerprints, group keys, label values and error messages come from requests. Written raw, a
newline in one starts a line that looks like the bridge's own (``... outcome=success``), a NUL or
a right-to-left override hides or reorders what an operator reads, and one huge value fills the
disk. So every value is escaped (control, bidi and invisible formatting characters become
``\\n``, ``\\u202e``, ...), quoted when it holds spaces, quotes or ``=`` (a value cannot pose as
another ``key=value``), and capped; a whole line is capped too. Credentials are redacted,
whoever wrote them. ``--log.format=json`` writes one JSON object per line for Loki or ELK.
"""

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from bridge.credentials import redact

# C0 and C1 controls, the Arabic letter mark, zero-width and bidi marks and overrides, line and
# paragraph separators, word joiners and isolates, and the BOM.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_NEEDS_QUOTES = re.compile(r'[\s"=]')
# A value longer than this is cut (a fuzzed payload once wrote a 100,139-character line).
MAX_VALUE = 300
MAX_LINE = 4000
FORMATS = ("text", "json")
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _escape_char(match: re.Match[str]) -> str:
    char = match[0]
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if char in named:
        return named[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: str) -> str:
    """``text`` with every control, bidi and invisible formatting character escaped."""
    return _UNSAFE.sub(_escape_char, text)


def cap(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...(+{len(text) - limit} chars)"


def safe_value(value: Any) -> Any:
    """A log argument made harmless: escaped, capped, quoted if needed (numbers as they are)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    text = escape(cap(redact(str(value)), MAX_VALUE))
    if _NEEDS_QUOTES.search(text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def safe_message(record: logging.LogRecord) -> str:
    """The record's message with every argument made safe, the whole escaped and capped."""
    args = record.args
    if isinstance(args, tuple):
        message = (
            str(record.msg) % tuple(safe_value(arg) for arg in args) if args else str(record.msg)
        )
    elif isinstance(args, dict):
        message = str(record.msg) % {key: safe_value(arg) for key, arg in args.items()}
    else:
        message = str(record.msg)
    return cap(escape(redact(message)), MAX_LINE)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message``, one line per record (tracebacks follow, as usual)."""

    def __init__(self) -> None:
        super().__init__(_TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        """The line, with the message made safe."""
        record.message = safe_message(record)
        return super().formatMessage(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``message`` (+ ``exception``)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as JSON (non-ASCII escaped, so no bidi character reaches a terminal)."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": safe_message(record),
        }
        if record.exc_info:
            entry["exception"] = cap(redact(self.formatException(record.exc_info)), MAX_LINE * 4)
        return json.dumps(entry, ensure_ascii=True)


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    @property
    def stream(self) -> TextIO:
        """The current standard error."""
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure(level: str, fmt: str = "text", stream: TextIO | None = None) -> logging.Handler:
    """Send every log record (the bridge's and gunicorn's) to ``stream`` (stderr) in ``fmt``."""
    handler: logging.Handler = _Stderr() if stream is None else logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.set_name("drift-bridge")
    root = logging.getLogger()
    # Only ours is replaced: handlers others installed (a test runner's) stay.
    for old in [h for h in root.handlers if h.get_name() == "drift-bridge"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler

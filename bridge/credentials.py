"""Secrets from a file or an environment variable, never from the config file itself.

A file is read as Alertmanager reads ``credentials_file``: surrounding whitespace trimmed. A value
with a line break (or any control character) inside is refused, naming the file and never the
value: sent, it would break the request's headers, and the HTTP library's error quotes them.

Every secret read is remembered (only in this process's memory) so :func:`redact` can take it
out of any text bound for the store or the log, whoever wrote it: a target that echoes the
request's headers in its error page included.
"""

import os
import re
import threading
import time
from pathlib import Path
from typing import Any

from bridge.config_reader import Reader

REDACTED = "<redacted>"
# Shorter values would redact ordinary words; such secrets are caught by the patterns below.
_MIN_REDACTED_LENGTH = 6
# Credentials as they appear in headers and URLs, whatever their value.
_CREDENTIAL_PATTERNS = (
    re.compile(r"(?i)\b(bearer|basic|token)(\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)([?&](?:token|access_token|api_token|password)=)([^&\s'\"]+)"),
)
_known_lock = threading.Lock()
_known: set[str] = set()


def _remember(value: str) -> None:
    if len(value) >= _MIN_REDACTED_LENGTH and value not in _known:
        with _known_lock:
            _known.add(value)


def redact(text: str) -> str:
    """``text`` without any secret this process has read, nor any credential-looking value."""
    with _known_lock:
        known = sorted(_known, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, REDACTED)
    text = _CREDENTIAL_PATTERNS[0].sub(lambda m: f"{m[1]}{m[2]}{REDACTED}", text)
    return _CREDENTIAL_PATTERNS[1].sub(lambda m: f"{m[1]}{REDACTED}", text)


def redact_values(value: Any) -> Any:
    """``value`` (JSON-like: dicts, lists, strings) with every string redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_values(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_values(item) for item in value]
    return value


def _check(value: str, source: str) -> str:
    if any(char in value for char in "\r\n"):
        raise ValueError(
            f"secret {source} has a line break inside (one line expected: a token or a "
            "password); refusing it"
        )
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValueError(f"secret {source} contains a control character; refusing it")
    return value


class Secret:
    """A secret read from ``file`` or from ``env``; its repr never shows the value.

    A file is read again when its value is older than ``max_age`` seconds, so a rotated secret
    takes effect within a second without a restart, and a busy intake does not read the file
    for every request.
    """

    def __init__(
        self, file: Path | None = None, env: str | None = None, max_age: float = 1.0
    ) -> None:
        if (file is None) == (env is None):
            raise ValueError("a secret comes from exactly one of a file or an environment variable")
        self.file = file
        self.env = env
        self.max_age = max_age
        self._cached: tuple[str, float] | None = None

    @property
    def source(self) -> str:
        """Where the secret is read from, for messages."""
        return f"file {self.file}" if self.file is not None else f"environment variable {self.env}"

    def get(self) -> str:
        """The secret's current value (whitespace trimmed); raises ValueError if unusable."""
        if self.file is not None:
            cached, now = self._cached, time.monotonic()
            if cached is not None and now - cached[1] < self.max_age:
                return cached[0]
            self._cached = None
            try:
                value = self.file.read_text().strip()
            except (OSError, UnicodeDecodeError) as err:
                reason = err.strerror if isinstance(err, OSError) else "not UTF-8 text"
                raise ValueError(f"cannot read secret {self.source}: {reason}") from None
        else:
            assert self.env is not None
            value = os.environ.get(self.env, "").strip()
        if not value:
            raise ValueError(f"secret {self.source} is empty or unset")
        _remember(_check(value, self.source))
        if self.file is not None:
            self._cached = (value, now)
        return value

    def __repr__(self) -> str:
        return f"Secret({self.source})"


def read_secret(reader: Reader, prefix: str, required: bool = True) -> Secret | None:
    """The secret configured as ``<prefix>_file`` or ``<prefix>_env``, checked readable now."""
    file_key, env_key = f"{prefix}_file", f"{prefix}_env"
    file = reader.file_path(file_key, None)
    env = reader.string(env_key, None)
    if file is not None and env is not None:
        reader.problem(file_key, f"set only one of {file_key} and {env_key}")
        return None
    if file is None and env is None:
        if required:
            reader.problem(file_key, f"is required (or {env_key}); secrets never go in the file")
        return None
    secret = Secret(file=Path(file)) if file is not None else Secret(env=env)
    if not reader.check_secrets:
        return secret
    try:
        secret.get()
    except ValueError as err:
        reader.problem(file_key if file is not None else env_key, str(err))
        return None
    return secret

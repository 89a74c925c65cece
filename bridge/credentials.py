"""Secrets from a file or an environment variable, never from the config file itself."""

import os
import time
from pathlib import Path

from bridge.config_reader import Reader


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
        """The secret's current value (trailing newline stripped); raises ValueError if unusable."""
        if self.file is not None:
            cached, now = self._cached, time.monotonic()
            if cached is not None and now - cached[1] < self.max_age:
                return cached[0]
            try:
                value = self.file.read_text().rstrip("\r\n")
            except OSError as err:
                raise ValueError(f"cannot read secret {self.source}: {err.strerror}") from None
            if value:
                self._cached = (value, now)
        else:
            assert self.env is not None
            value = os.environ.get(self.env, "")
        if not value:
            raise ValueError(f"secret {self.source} is empty or unset")
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
    try:
        secret.get()
    except ValueError as err:
        reader.problem(file_key if file is not None else env_key, str(err))
        return None
    return secret

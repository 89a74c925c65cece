"""Secrets from a file or an environment variable, never from the config file itself."""

import os
from pathlib import Path

from bridge.config_reader import Reader


class Secret:
    """A secret read from ``file`` (re-read at each use, so rotation works) or from ``env``.

    Its repr names where it comes from, never the value.
    """

    def __init__(self, file: Path | None = None, env: str | None = None) -> None:
        if (file is None) == (env is None):
            raise ValueError("a secret comes from exactly one of a file or an environment variable")
        self.file = file
        self.env = env

    @property
    def source(self) -> str:
        """Where the secret is read from, for messages."""
        return f"file {self.file}" if self.file is not None else f"environment variable {self.env}"

    def get(self) -> str:
        """The secret's current value (trailing newline stripped); raises ValueError if unusable."""
        if self.file is not None:
            try:
                value = self.file.read_text().rstrip("\r\n")
            except OSError as err:
                raise ValueError(f"cannot read secret {self.source}: {err.strerror}") from None
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
    file = reader.string(file_key, None)
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

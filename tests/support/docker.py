"""Read a Dockerfile, a .dockerignore and `docker-compose config` output without a Docker daemon."""

import json
import re
import shlex
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: ``COPY`` and its arguments, continuation lines joined."""

    keyword: str
    args: str


def dockerfile_stages(text: str) -> list[list[Instruction]]:
    """The instructions of each build stage, in order (each list starts with its FROM)."""
    stages: list[list[Instruction]] = []
    logical = ""
    for line in text.splitlines():
        stripped = line.strip()
        # Docker drops comment lines, even inside a continued instruction.
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            logical += stripped[:-1] + " "
            continue
        keyword, _, args = (logical + stripped).partition(" ")
        logical = ""
        instruction = Instruction(keyword.upper(), args.strip())
        if instruction.keyword == "FROM":
            stages.append([])
        stages[-1].append(instruction)
    return stages


def copy_sources(instruction: Instruction) -> list[str]:
    """The build-context sources of a COPY (none when it copies from another stage)."""
    words = shlex.split(instruction.args)
    if any(word.startswith("--from=") for word in words):
        return []
    paths = [word for word in words if not word.startswith("--")]
    return paths[:-1]


def env_values(stage: list[Instruction]) -> dict[str, str]:
    """Every ``ENV key=value`` of a stage (later ones win)."""
    values: dict[str, str] = {}
    for instruction in stage:
        if instruction.keyword == "ENV":
            for word in shlex.split(instruction.args):
                key, _, value = word.partition("=")
                values[key] = value
    return values


def healthcheck_command(stage: list[Instruction]) -> list[str]:
    """The exec-form command of the stage's HEALTHCHECK (an AssertionError when there is none)."""
    (check,) = [i for i in stage if i.keyword == "HEALTHCHECK"]
    _options, sep, command = check.args.partition("CMD ")
    assert sep, f"HEALTHCHECK without CMD: {check.args}"
    argv = json.loads(command)
    assert isinstance(argv, list)
    return [str(word) for word in argv]


@cache
def _pattern_regex(pattern: str) -> re.Pattern[str]:
    # Go's filepath.Match as Docker extends it: `*` stays within a path segment, `**` crosses.
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out += pattern[i : end + 1]
            i = end + 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out)


def dockerignore_patterns(path: Path) -> list[str]:
    """The patterns of a .dockerignore, comments and blank lines left out."""
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def in_build_context(path: str, patterns: list[str]) -> bool:
    """Whether ``path`` (relative, with ``/``) is sent to the build, as Docker decides: the last
    pattern matching the path or one of its parent directories wins; ``!`` patterns include."""
    parts = path.strip("/").split("/")
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    included = True
    for pattern in patterns:
        exclusion = pattern.startswith("!")
        regex = _pattern_regex(pattern.removeprefix("!").strip("/"))
        if any(regex.fullmatch(candidate) for candidate in candidates):
            included = exclusion
    return included


@dataclass(frozen=True)
class Mount:
    """A service's volume: a bind mount (``source`` an absolute host path) or a named volume."""

    source: str
    target: str
    read_only: bool

    @property
    def is_bind(self) -> bool:
        """True for a host path, False for a named volume."""
        return self.source.startswith("/")


def service_mounts(service: dict[str, Any]) -> list[Mount]:
    """The mounts of a service in `docker-compose config` output (short or long syntax)."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target, *mode = volume.split(":")
            mounts.append(Mount(source, target, "ro" in (mode[0].split(",") if mode else [])))
        else:
            mounts.append(
                Mount(volume["source"], volume["target"], bool(volume.get("read_only", False)))
            )
    return mounts


def flag_value(argv: list[str], flag: str) -> str | None:
    """The value of ``--flag=value`` or ``--flag value`` in ``argv``, or None."""
    for i, word in enumerate(argv):
        if word.startswith(f"{flag}="):
            return word.split("=", 1)[1]
        if word == flag and i + 1 < len(argv):
            return argv[i + 1]
    return None

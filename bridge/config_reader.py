"""Typed reads from a parsed YAML document that collect every problem with its key path.

Validation happens once, when the configuration is loaded; each problem names the file and the
key so that ``drift-bridge check-config`` can list them all at once.
"""

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from common.durations import parse_duration


class ConfigError(ValueError):
    """The configuration has problems; ``problems`` lists each as ``file: key: message``."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


class _Missing:
    def __repr__(self) -> str:
        return "<required>"


# The default of a required setting. A required setting that is missing or invalid reads as None
# (the problem is recorded), so a half-read config never carries this marker around.
REQUIRED: Any = _Missing()


def _fallback(default: Any) -> Any:
    return None if default is REQUIRED else default


class Reader:
    """Reads one mapping of a config file; problems go to a list shared by the whole file.

    >>> problems: list[str] = []
    >>> r = Reader({"timeout": "5s"}, "bridge.yml", problems)
    >>> r.duration("timeout", 10.0)
    5.0
    """

    def __init__(
        self,
        data: Any,
        file: str,
        problems: list[str],
        path: str = "",
        known: set[str] | None = None,
        check_secrets: bool = True,
    ) -> None:
        self.file = file
        self.path = path
        self.problems = problems
        # False for commands that send nothing (replay): secret files need not exist there.
        self.check_secrets = check_secrets
        self._known: set[str] = set() if known is None else known
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            self._problem_at(path, f"expected a mapping, got {_kind(data)}")
            data = {}
        self.data: Mapping[str, Any] = data

    def key_path(self, key: str | int) -> str:
        """The dotted path of ``key`` under this mapping, as messages show it."""
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def _problem_at(self, path: str, message: str) -> None:
        self.problems.append(f"{self.file}: {path or '(top level)'}: {message}")

    def problem(self, key: str, message: str) -> None:
        """Record a problem about ``key``."""
        self._problem_at(self.key_path(key), message)

    def has(self, key: str) -> bool:
        """True when ``key`` is present (and marks it as known)."""
        self._known.add(key)
        return key in self.data

    def _get(self, key: str, default: Any) -> Any:
        self._known.add(key)
        if key in self.data and self.data[key] is not None:
            return self.data[key]
        if default is REQUIRED:
            self.problem(key, "is required")
        return _fallback(default)

    def _typed(self, key: str, default: Any, kinds: tuple[type, ...], what: str) -> Any:
        value = self._get(key, default)
        if value is None or value is default:
            return _fallback(default)
        if isinstance(value, bool) and bool not in kinds:
            self.problem(key, f"expected {what}, got {_kind(value)}")
            return _fallback(default)
        if not isinstance(value, kinds):
            self.problem(key, f"expected {what}, got {_kind(value)}")
            return _fallback(default)
        return value

    def string(
        self, key: str, default: Any = REQUIRED, choices: Sequence[str] | None = None
    ) -> Any:
        """A string; with ``choices``, one of them."""
        value = self._typed(key, default, (str,), "a string")
        if choices is not None and isinstance(value, str) and value not in choices:
            self.problem(key, f"must be one of {', '.join(choices)}; got {value!r}")
            return _fallback(default)
        if isinstance(value, str) and value == "" and default is REQUIRED:
            self.problem(key, "must not be empty")
        return value

    def file_path(self, key: str, default: Any = REQUIRED) -> Any:
        """A file or directory path; a relative one is taken from the config file's directory."""
        value = self.string(key, default)
        if not isinstance(value, str) or not value:
            return value
        return str(Path(self.file).parent / value) if not Path(value).is_absolute() else value

    def boolean(self, key: str, default: Any = REQUIRED) -> Any:
        """A boolean (YAML true/false)."""
        return self._typed(key, default, (bool,), "true or false")

    def integer(self, key: str, default: Any = REQUIRED, minimum: int | None = None) -> Any:
        """An integer, at least ``minimum`` when given."""
        value = self._typed(key, default, (int,), "an integer")
        if minimum is not None and isinstance(value, int) and value < minimum:
            self.problem(key, f"must be at least {minimum}, got {value}")
            return _fallback(default)
        return value

    def duration(self, key: str, default: Any = REQUIRED, minimum: float = 0.0) -> Any:
        """A duration string (``30s``, ``5m``) as seconds."""
        value = self._get(key, default)
        if value is None or value is default:
            return _fallback(default)
        if not isinstance(value, str):
            self.problem(key, f"expected a duration such as 30s or 5m, got {_kind(value)}")
            return _fallback(default)
        try:
            seconds = parse_duration(value)
        except ValueError as err:
            self.problem(key, str(err))
            return _fallback(default)
        if seconds < minimum:
            self.problem(key, f"must be at least {minimum:g}s, got {value}")
            return _fallback(default)
        return seconds

    def strings(self, key: str, default: Any = REQUIRED) -> Any:
        """A list of strings."""
        value = self._typed(key, default, (list,), "a list of strings")
        if value is None or value is default:
            return _fallback(default)
        for index, item in enumerate(value):
            if not isinstance(item, str):
                self._problem_at(
                    f"{self.key_path(key)}[{index}]", f"expected a string, got {_kind(item)}"
                )
                return _fallback(default)
        return list(value)

    def string_map(self, key: str, default: Any = REQUIRED) -> Any:
        """A mapping of string keys to string values (numbers are not silently converted)."""
        value = self._typed(key, default, (dict,), "a mapping of names to strings")
        if value is None or value is default:
            return _fallback(default)
        for name, item in value.items():
            if not isinstance(name, str) or not isinstance(item, str):
                self._problem_at(
                    f"{self.key_path(key)}.{name}",
                    f"expected a string, got {_kind(item)} (quote it in YAML)",
                )
                return _fallback(default)
        return dict(value)

    def child(self, key: str, required: bool = False) -> "Reader":
        """The mapping at ``key`` (empty when absent)."""
        self._known.add(key)
        if key not in self.data or self.data[key] is None:
            if required:
                self.problem(key, "is required")
            return Reader(
                {}, self.file, self.problems, self.key_path(key), check_secrets=self.check_secrets
            )
        return Reader(
            self.data[key],
            self.file,
            self.problems,
            self.key_path(key),
            check_secrets=self.check_secrets,
        )

    def children(self, key: str, required: bool = False) -> Iterator["Reader"]:
        """Each mapping in the list at ``key``."""
        self._known.add(key)
        items = self.data.get(key)
        if items is None:
            if required:
                self.problem(key, "is required")
            return
        if not isinstance(items, list):
            self.problem(key, f"expected a list, got {_kind(items)}")
            return
        for index, item in enumerate(items):
            yield Reader(
                item,
                self.file,
                self.problems,
                f"{self.key_path(key)}[{index}]",
                check_secrets=self.check_secrets,
            )

    def named_children(self, key: str, required: bool = False) -> Iterator[tuple[str, "Reader"]]:
        """Each (name, mapping) of the mapping at ``key``."""
        self._known.add(key)
        items = self.data.get(key)
        if items is None:
            if required:
                self.problem(key, "is required")
            return
        if not isinstance(items, Mapping):
            self.problem(key, f"expected a mapping of names to settings, got {_kind(items)}")
            return
        for name, item in items.items():
            yield (
                str(name),
                Reader(
                    item,
                    self.file,
                    self.problems,
                    f"{self.key_path(key)}.{name}",
                    check_secrets=self.check_secrets,
                ),
            )

    def reject_unknown(self) -> None:
        """Record every key that no read asked for (a typo, usually)."""
        for key in self.data:
            if key not in self._known:
                self.problem(str(key), "unknown setting")


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__

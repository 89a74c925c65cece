"""Alertmanager label matchers: ``name="value"``, ``!=``, ``=~`` and ``!~``.

Semantics as Alertmanager's: a missing label matches as the empty string, and regular
expressions are anchored at both ends (``model=~"churn.*"`` does not match ``my-churn``).
"""

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

_MATCHER = re.compile(
    r"""^\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*(?P<value>.*?)\s*$""", re.S
)


@dataclass(frozen=True)
class Matcher:
    """One matcher, as Alertmanager's ``matchers`` list spells it."""

    name: str
    op: str
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def parse(cls, text: str) -> "Matcher":
        """Parse ``name<op>value``; the value may be double-quoted (with JSON escapes)."""
        match = _MATCHER.match(text)
        if match is None:
            raise ValueError(
                f"invalid matcher {text!r}: expected name, an operator (=, !=, =~, !~) and a "
                'value, e.g. alertname="ModelDriftHigh"'
            )
        name, op, value = match["name"], match["op"], match["value"]
        if value.startswith('"'):
            if len(value) < 2 or not value.endswith('"'):
                raise ValueError(f"invalid matcher {text!r}: unterminated quoted value")
            try:
                value = json.loads(value)
            except json.JSONDecodeError as err:
                raise ValueError(f"invalid matcher {text!r}: bad quoted value: {err.msg}") from None
        regex = None
        if op in ("=~", "!~"):
            try:
                regex = re.compile(f"(?:{value})", re.S)
            except re.error as err:
                raise ValueError(
                    f"invalid matcher {text!r}: bad regular expression: {err}"
                ) from None
        return cls(name, op, value, regex)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this matcher."""
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        assert self._regex is not None
        found = self._regex.fullmatch(actual) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        return f"{self.name}{self.op}{json.dumps(self.value)}"


def matches_all(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    """True when every matcher matches (an empty list matches everything)."""
    return all(matcher.matches(labels) for matcher in matchers)

"""Alertmanager label matchers: ``name="value"``, ``!=``, ``=~`` and ``!~``.

Semantics as Alertmanager's: a missing label matches as the empty string, and regular
expressions are anchored at both ends (``model=~"churn.*"`` does not match ``my-churn``).

Syntax as Alertmanager's matchers parser (0.27+): one matcher per item, optionally in braces and
with a trailing comma; a name (or a quoted name), an operator, and a value that must be quoted if
it holds whitespace or any of ``{}!=~,\\"'``. So ``alertname==ModelDriftHigh``, which the
classic parser took as the value ``=ModelDriftHigh`` (matching nothing), is an error here.
"""

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

_MATCHER = re.compile(
    r"""^\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*|"(?:[^"\\]|\\.)*")\s*(?P<op>=~|!~|!=|=)\s*"""
    r"""(?P<value>.*?)\s*$""",
    re.S,
)
# Characters an unquoted value cannot hold (Alertmanager's lexer reserves them).
_RESERVED = re.compile(r"""[\s{}!=~,\\"'`]""")
_SYNTAX = (
    "expected a name, one operator (=, !=, =~, !~) and a value; quote the value if it holds "
    """spaces or any of {}!=~,\\"' (e.g. alertname="ModelDriftHigh")"""
)


def _unwrap(text: str) -> str:
    """Without the braces and the trailing comma Alertmanager allows around one matcher."""
    text = text.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    return text[:-1].rstrip() if text.endswith(",") else text


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
        match = _MATCHER.match(_unwrap(text))
        if match is None:
            raise ValueError(f"invalid matcher {text!r}: {_SYNTAX}")
        name, op, value = match["name"], match["op"], match["value"]
        if name.startswith('"'):
            name = _unquote(name, text)
        if value.startswith('"'):
            if len(value) < 2 or not value.endswith('"'):
                raise ValueError(f"invalid matcher {text!r}: unterminated quoted value")
            value = _unquote(value, text)
        else:
            reserved = _RESERVED.search(value)
            if reserved is not None:
                raise ValueError(
                    f"invalid matcher {text!r}: unexpected {reserved[0]!r} in the value "
                    f"{value!r}; {_SYNTAX}"
                )
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


def _unquote(quoted: str, text: str) -> str:
    try:
        value = json.loads(quoted)
    except json.JSONDecodeError as err:
        raise ValueError(f"invalid matcher {text!r}: bad quoted value: {err.msg}") from None
    assert isinstance(value, str)
    return value


def matches_all(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    """True when every matcher matches (an empty list matches everything)."""
    return all(matcher.matches(labels) for matcher in matchers)

"""The helpers both components share: one duration grammar, one JSON text, one loopback rule."""

import pytest

from common.addresses import is_loopback, parse_listen_address
from common.canonical_json import canonical_json
from common.durations import parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90.0), ("5m", 300.0), ("1h30m", 5400.0), ("250ms", 0.25), ("1d", 86400.0)],
)
def test_durations_use_the_prometheus_grammar(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["90", "", "5 m", "1x", "-5s", "m5"])
def test_a_duration_without_a_unit_or_with_garbage_is_refused_with_examples(text: str) -> None:
    with pytest.raises(ValueError, match="1h30m"):
        parse_duration(text)


def test_canonical_json_is_compact_and_sorted() -> None:
    assert (
        canonical_json({"b": "é", "a": {"d": 1, "c": None}})
        == '{"a":{"c":null,"d":1},"b":"\\u00e9"}'
    )
    assert canonical_json({"b": "é"}, ascii_only=False) == '{"b":"é"}'


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
        ("127.0.0.1.nip.io", False),
        ("127.example.com", False),
    ],
)
def test_loopback_is_decided_by_parsing_the_address(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_listen_addresses_parse_like_prometheus_flags() -> None:
    assert parse_listen_address(":9911") == ("0.0.0.0", 9911)
    assert parse_listen_address("[::1]:9912") == ("::1", 9912)
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_listen_address("9911")

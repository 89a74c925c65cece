"""Where the bridge listens: default, loopback check, gunicorn's bind."""

import pytest

from bridge.config import ServerConfig
from bridge.listen import DEFAULT_LISTEN_ADDRESS, gunicorn_bind, listen_host, listens_on_loopback


def test_the_default_address_is_loopback_only() -> None:
    assert ServerConfig().listen_address == DEFAULT_LISTEN_ADDRESS
    assert listens_on_loopback(DEFAULT_LISTEN_ADDRESS)


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1:9912", True),
        ("localhost:9912", True),
        ("[::1]:9912", True),
        ("0.0.0.0:9912", False),
        (":9912", False),
        ("127.evil.example:9912", False),
        ("nowhere", False),
    ],
)
def test_loopback_is_decided_by_parsing_the_host(address: str, loopback: bool) -> None:
    assert listens_on_loopback(address) is loopback


def test_an_invalid_address_has_no_host() -> None:
    assert listen_host("nowhere") is None
    assert listen_host(":9912") == "0.0.0.0"


@pytest.mark.parametrize(
    ("address", "bind"),
    [("127.0.0.1:9912", "127.0.0.1:9912"), ("[::1]:9912", "[::1]:9912"), (":80", "0.0.0.0:80")],
)
def test_gunicorn_binds_ipv6_hosts_in_brackets(address: str, bind: str) -> None:
    assert gunicorn_bind(address) == bind

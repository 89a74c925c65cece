"""Where the bridge listens: the default address, the loopback check and gunicorn's bind.

The address grammar itself (Prometheus style ``host:port``) is shared with the exporter through
:mod:`common.addresses`; the bridge never imports the exporter.
"""

from common.addresses import is_loopback, parse_listen_address

DEFAULT_LISTEN_ADDRESS = "127.0.0.1:9912"


def listen_host(address: str) -> str | None:
    """The host part of ``address``, or None when it is not a valid ``HOST:PORT``."""
    try:
        host, _ = parse_listen_address(address)
    except ValueError:
        return None
    return host


def listens_on_loopback(address: str) -> bool:
    """True when a bridge on ``address`` is reachable from this machine only (host parsed)."""
    host = listen_host(address)
    return host is not None and is_loopback(host)


def gunicorn_bind(address: str) -> str:
    """``address`` the way gunicorn's ``bind`` setting wants it (IPv6 hosts in brackets)."""
    host, port = parse_listen_address(address)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

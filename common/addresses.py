"""Listen addresses in the Prometheus style (``host:port``) and what counts as loopback."""

import ipaddress


def parse_listen_address(text: str) -> tuple[str, int]:
    """Parse a Prometheus-style ``host:port`` (``:9911`` = every interface, ``[::1]:9911``)."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit():
        raise ValueError(
            f"invalid listen address {text!r}: expected HOST:PORT, e.g. 127.0.0.1:9911"
        )
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ValueError(f"invalid listen address {text!r}: port must be in 0-65535")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host or "0.0.0.0", port


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine.

    The host is parsed, not matched by prefix: ``127.evil.example`` is a name, not loopback.

    >>> is_loopback("127.0.0.1"), is_loopback("127.0.0.1.nip.io"), is_loopback("::1")
    (True, False, True)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

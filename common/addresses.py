"""Listen addresses in the Prometheus style (``host:port``) and what counts as loopback."""

import errno
import ipaddress
import socket


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


class AddressInUseError(OSError):
    """Another process listens on the address: one line that names it and how to change it."""


def in_use(host: str, port: int, hint: str) -> AddressInUseError:
    """The error for ``host:port`` being taken; ``hint`` says which setting changes it."""
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    error = AddressInUseError(f"cannot listen on {shown}: address already in use ({hint})")
    error.errno = errno.EADDRINUSE
    return error


def check_can_listen(host: str, port: int, hint: str) -> None:
    """Raise :class:`AddressInUseError` if ``host:port`` is taken (bound and released at once).

    For servers that would otherwise fail later and at length (gunicorn retries for seconds and
    logs every attempt); ``SO_REUSEADDR`` as they set it, so a port in TIME_WAIT counts as free.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise in_use(host, port, hint) from None
            raise

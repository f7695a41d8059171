"""Where a webhook may send: ``http``/``https`` URLs whose host resolves only to public
addresses, unless ``HINDSIGHT_WEBHOOK_ALLOW_PRIVATE`` is on.

Checked at creation (so a bad URL is refused with its reason) and again before every attempt,
since DNS can change; the attempt then connects to the address that was checked
(``Target.pinned_url``), so a second resolution cannot swap in a private one.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

# Always refused, whatever the setting: nothing legitimate listens on them.
_UNSPECIFIED = (ipaddress.ip_network("0.0.0.0/8"), ipaddress.ip_network("::/128"))
# Cloud metadata endpoints, named in the refusal so operators see why.
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


class UnsafeAddress(ValueError):
    """The URL may not be delivered to; the message is the reason, shown to the user."""


@dataclass(frozen=True)
class Target:
    url: str
    host: str
    address: str  # the checked IP address the attempt connects to

    @property
    def pinned_url(self) -> str:
        """The URL with its host replaced by the checked address (the Host header and TLS
        server name keep the original host)."""
        parts = urlsplit(self.url)
        literal = f"[{self.address}]" if ":" in self.address else self.address
        netloc = literal if parts.port is None else f"{literal}:{parts.port}"
        return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))

    @property
    def host_header(self) -> str:
        parts = urlsplit(self.url)
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if parts.port is None else f"{host}:{parts.port}"


def refusal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why an address is not public, or None when it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return refusal(address.ipv4_mapped)
    if address in _METADATA:
        return f"{address} is a cloud metadata address"
    if any(address in net for net in _UNSPECIFIED) or address.is_unspecified:
        return f"{address} is an unspecified address"
    if address.is_loopback:
        return f"{address} is a loopback address"
    if address.is_link_local:
        return f"{address} is a link-local address"
    if address.is_multicast:
        return f"{address} is a multicast address"
    if address.is_private or address.is_reserved or not address.is_global:
        return f"{address} is a private address"
    return None


def parse(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an ``http``/``https`` URL, or ``UnsafeAddress``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeAddress(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeAddress("only http and https URLs are allowed")
    if not parts.hostname:
        raise UnsafeAddress("the URL has no host")
    if parts.username or parts.password:
        raise UnsafeAddress("credentials in the URL are not allowed; use headers or a secret")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def resolve(host: str, port: int) -> list[str]:
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return [str(literal)]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as exc:  # no such host, bad name, NUL byte
        raise UnsafeAddress(f"cannot resolve {host}: {exc}") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise UnsafeAddress(f"{host} resolves to no address")
    return addresses


def check(url: str, allow_private: bool) -> Target:
    """Resolve ``url``'s host and check every address it resolves to; the first one is where
    the attempt connects. Raises ``UnsafeAddress`` with the reason."""
    _scheme, host, port = parse(url)
    addresses = resolve(host, port)
    if not allow_private:
        for raw in addresses:
            why = refusal(ipaddress.ip_address(raw.split("%", 1)[0]))
            if why is not None:
                shown = "" if raw == host else f"{host} resolves to "
                raise UnsafeAddress(f"{shown}{why}; set HINDSIGHT_WEBHOOK_ALLOW_PRIVATE=true "
                                    "to allow it")
    return Target(url=url, host=host, address=addresses[0])


def check_new(url: str, allow_private: bool) -> None:
    """The check at creation: the scheme, and every address the host resolves to now. A host
    that does not resolve yet is accepted (each attempt checks again and fails until it does)."""
    _scheme, host, port = parse(url)
    if allow_private:
        return
    try:
        resolve(host, port)
    except UnsafeAddress:
        return
    check(url, allow_private)

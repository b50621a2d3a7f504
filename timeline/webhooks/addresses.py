"""The SSRF guard: webhooks go only to public addresses, checked when subscribing and connecting.

A hostname is resolved once per attempt and the connection is made to the address that was
checked (see :mod:`timeline.webhooks.sender`), so a DNS answer that changes between the check and
the connect (rebinding) cannot reach an internal service.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from timeline.domain import InvalidValue

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeAddress(InvalidValue):
    """The URL's host is, or resolves to, an address webhooks may not reach."""


def is_public(address: IPAddress) -> bool:
    """Globally routable unicast only: no loopback, private, link-local, multicast or reserved."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the host resolves to (an IP literal resolves to itself)."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnsafeAddress(f"The host {host!r} does not resolve: {error}.", "url") from None
    addresses: list[IPAddress] = []
    for *_, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def checked_addresses(url: str, allow_private: bool) -> list[IPAddress]:
    """The addresses to connect to for this URL; refuses if any of them is not public.

    Refusing when *any* answer is private (not only the first) stops a hostname that mixes a
    public and an internal address from being used to reach the internal one.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = resolve(host, port)
    if not addresses:
        raise UnsafeAddress(f"The host {host!r} has no address.", "url")
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise UnsafeAddress(
                    f"{host} resolves to {address}, a loopback, private, link-local or reserved "
                    "address; webhooks go to public addresses only (an operator may set "
                    "TIMELINE_WEBHOOK_ALLOW_PRIVATE=1 for private deployments).",
                    "url",
                )
    return addresses

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


# IPv6 prefixes whose addresses carry an IPv4 address that a NAT64 gateway, a 6to4 or Teredo
# relay, or the host's own stack may turn back into it (169.254.169.254 as 64:ff9b::a9fe:a9fe):
# refused whatever address they carry, since the guard cannot know what the network does.
EMBEDDING_IPV4 = tuple(
    ipaddress.IPv6Network(prefix)
    for prefix in (
        "64:ff9b::/96",  # NAT64, well-known prefix (RFC 6052)
        "64:ff9b:1::/48",  # NAT64, local use (RFC 8215)
        "2002::/16",  # 6to4 (RFC 3056)
        "2001::/32",  # Teredo (RFC 4380)
        "::/96",  # IPv4-compatible (RFC 4291, deprecated), also :: and ::1
    )
)


def is_public(address: IPAddress) -> bool:
    """Globally routable unicast only: no loopback, private, link-local, multicast or reserved,
    and no IPv6 form of an IPv4 address but the mapped one, which is checked as IPv4."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif any(address in network for network in EMBEDDING_IPV4):
            return False
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
    try:
        port = parts.port
    except ValueError:  # not a number, or beyond 65535
        raise UnsafeAddress("The URL's port is not a port number (1-65535).", "url") from None
    if port == 0:
        raise UnsafeAddress("The URL's port is 0, which no server listens on.", "url")
    port = port or (443 if parts.scheme == "https" else 80)
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

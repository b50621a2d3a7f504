"""One HTTP POST of a webhook, to an address that passed the SSRF guard, within a deadline.

The connection goes to the checked IP address while TLS and the Host header use the URL's
hostname, so DNS cannot be re-asked between the check and the connect. Redirects are never
followed (http.client does not follow them; a 3xx is a failed attempt). A watchdog shuts the
socket at the deadline, so a receiver that trickles bytes cannot hold a worker longer than the
timeout.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from timeline.webhooks.addresses import IPAddress, UnsafeAddress, checked_addresses
from timeline.webhooks.policy import parse_retry_after

USER_AGENT = "conflict-timeline-webhooks/1"
# Enough of a receiver's answer to show in the delivery log; the rest is not read.
MAX_RESPONSE_BYTES = 4096


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: a status code, or an error saying why there was none."""

    status_code: int | None
    latency_ms: float
    error: str | None = None
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        """2xx only; redirects and everything else are failures."""
        return self.status_code is not None and 200 <= self.status_code < 300


class _PinnedConnection(http.client.HTTPConnection):
    """HTTP to one of the checked addresses, whatever DNS says now."""

    def __init__(self, host: str, port: int, addresses: list[IPAddress], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.addresses = addresses

    def connect(self) -> None:
        last: OSError | None = None
        for address in self.addresses:
            try:
                self.sock = socket.create_connection((str(address), self.port), self.timeout)
            except OSError as error:
                last = error
                continue
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return
        raise last or OSError("no address to connect to")

    def abort(self) -> None:
        """Wake a blocked read or write (called by the watchdog thread)."""
        sock = self.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _PinnedTLSConnection(_PinnedConnection):
    """HTTPS to a checked address, verifying the certificate for the URL's hostname."""

    context = ssl.create_default_context()

    def connect(self) -> None:
        super().connect()
        self.sock = self.context.wrap_socket(self.sock, server_hostname=self.host)


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout: float,
    allow_private: bool,
) -> Outcome:
    """POST ``body`` to ``url``; never raises for anything the receiver or network does."""
    started = time.monotonic()

    def elapsed() -> float:
        return round((time.monotonic() - started) * 1000, 1)

    try:
        addresses = checked_addresses(url, allow_private)
    except UnsafeAddress as error:
        return Outcome(None, elapsed(), error.message)
    parts = urlsplit(url)
    kind = _PinnedTLSConnection if parts.scheme == "https" else _PinnedConnection
    port = parts.port or (443 if parts.scheme == "https" else 80)
    connection = kind(parts.hostname or "", port, addresses, timeout)
    watchdog = threading.Timer(timeout, connection.abort)
    watchdog.daemon = True
    watchdog.start()
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request(
            "POST",
            path,
            body=body,
            headers={
                **headers,
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
            },
        )
        response = connection.getresponse()
        response.read(MAX_RESPONSE_BYTES)
        status = response.status
        retry_after = parse_retry_after(response.getheader("Retry-After"))
    except (OSError, http.client.HTTPException, ValueError) as error:
        timed_out = isinstance(error, TimeoutError) or time.monotonic() - started >= timeout
        reason = f"timed out after {timeout:g} s" if timed_out else _describe(error)
        return Outcome(None, elapsed(), reason)
    finally:
        watchdog.cancel()
        connection.close()
    error_text = None if 200 <= status < 300 else f"HTTP {status}"
    return Outcome(status, elapsed(), error_text, retry_after)


def _describe(error: Exception) -> str:
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:500]

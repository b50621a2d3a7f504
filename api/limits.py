"""Rate limits: one budget per API key across every endpoint (per address for callers
without one), kept in Redis.

flask-limiter counts in the deployment's Redis, so every API process shares one budget per
key. Over the limit the answer is a 429 with ``Retry-After``. With Redis unreachable requests
are not limited rather than refused: writes must not depend on Redis.

Buckets are bounded: a presented key is checked first (api.auth.identify: a forged one is a
401 and gets no bucket); an anonymous caller counts by its address — behind a proxy named in
``TIMELINE_TRUSTED_PROXIES``, the last address in ``X-Forwarded-For`` that is not such a proxy
(the earlier ones are the client's to forge) — and an IPv6 caller by its /64.
"""

from __future__ import annotations

import ipaddress

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter
from limits import parse_many

from timeline.config import ConfigError, Network, Settings

UNLIMITED_PATHS = ("/api/v1/health", "/api/v1/ready", "/api/v1/metrics")


def client_key() -> str:
    """Whose budget a request spends: its key's id, else its address."""
    caller = g.get("caller")
    if caller is not None:
        return f"key:{caller.key_id}"
    trusted = current_app.extensions["timeline"].settings.trusted_proxies
    return "addr:" + client_address(
        request.remote_addr or "", request.headers.get("X-Forwarded-For"), trusted
    )


def client_address(remote: str, forwarded: str | None, trusted: tuple[Network, ...]) -> str:
    """The caller's address (an IPv6 one as its /64): ``remote``, or behind trusted proxies
    the last hop of ``forwarded`` that is not one of them."""
    address = _address(remote)
    if address is not None and forwarded and _within(address, trusted):
        for hop in reversed(forwarded.split(",")):
            address = _address(hop.strip())
            if address is None or not _within(address, trusted):
                break
    if address is None:
        return remote  # (not an address: a unix socket, or a garbled hop)
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _within(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: tuple[Network, ...]
) -> bool:
    return any(address in network for network in networks)


def _exempt() -> bool:
    return request.method == "OPTIONS" or request.path in UNLIMITED_PATHS


def _retry_after_only_when_refused(response: Response) -> Response:
    """The limiter sends ``Retry-After`` with every answer; it means "try again later", so
    only a refusal (429, 503) keeps it."""
    if response.status_code not in (429, 503):
        response.headers.pop("Retry-After", None)
    return response


def storage_uri(settings: Settings) -> str:
    """The limits library's URI for the deployment's Redis (memory when none is configured)."""
    url = settings.redis_url
    if not url:
        return "memory://"
    if url.startswith("unix://"):
        return "redis+unix://" + url.removeprefix("unix://")
    return url


def install(app: Flask, settings: Settings) -> Limiter | None:
    """Limit every route but health, readiness and metrics (after api.auth.identify):
    ``settings.rate_limit`` for all of them together, and ``rate_limit_per_endpoint`` (if
    set) for each."""
    if not settings.rate_limit:
        return None
    for name, value in (("RATE_LIMIT", settings.rate_limit),
                        ("RATE_LIMIT_PER_ENDPOINT", settings.rate_limit_per_endpoint)):  # fmt: skip
        try:
            parse_many(value or "1/second")
        except ValueError:
            raise ConfigError(
                f"TIMELINE_{name} must look like '600/minute' or '10/second;600/hour', "
                f"got {value!r}"
            ) from None
    per_endpoint = settings.rate_limit_per_endpoint
    app.after_request(_retry_after_only_when_refused)  # runs after the limiter's own
    return Limiter(
        client_key,
        app=app,
        application_limits=[settings.rate_limit],
        application_limits_exempt_when=_exempt,
        default_limits=[per_endpoint] if per_endpoint else [],
        default_limits_exempt_when=_exempt,
        headers_enabled=True,
        strategy="moving-window",
        storage_uri=storage_uri(settings),
        storage_options={"socket_connect_timeout": 1, "socket_timeout": 1},
        swallow_errors=True,
        key_prefix="timeline-limits",
    )

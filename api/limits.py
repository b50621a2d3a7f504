"""Rate limits per API key (per address for callers without one), kept in Redis.

flask-limiter counts in the deployment's Redis, so every API process shares one budget per
key. Over the limit the answer is a 429 with ``Retry-After``. With Redis unreachable requests
are not limited rather than refused: writes must not depend on Redis.
"""

from __future__ import annotations

import hashlib

from flask import Flask, request
from flask_limiter import Limiter
from limits import parse_many

from timeline.config import ConfigError, Settings

UNLIMITED_PATHS = ("/api/v1/health", "/api/v1/ready", "/api/v1/metrics")


def client_key() -> str:
    """Who is asking: a hash of the bearer key (never the key itself), else the address."""
    kind, _, token = request.headers.get("Authorization", "").partition(" ")
    if kind.lower() == "bearer" and token.strip():
        return "key:" + hashlib.sha256(token.strip().encode()).hexdigest()[:24]
    return f"addr:{request.remote_addr}"


def _exempt() -> bool:
    return request.method == "OPTIONS" or request.path in UNLIMITED_PATHS


def storage_uri(settings: Settings) -> str:
    """The limits library's URI for the deployment's Redis (memory when none is configured)."""
    url = settings.redis_url
    if not url:
        return "memory://"
    if url.startswith("unix://"):
        return "redis+unix://" + url.removeprefix("unix://")
    return url


def install(app: Flask, settings: Settings) -> Limiter | None:
    """Limit every route but health, readiness and metrics to ``settings.rate_limit``."""
    if not settings.rate_limit:
        return None
    try:
        parse_many(settings.rate_limit)
    except ValueError:
        raise ConfigError(
            f"TIMELINE_RATE_LIMIT must look like '600/minute' or '10/second;600/hour', "
            f"got {settings.rate_limit!r}"
        ) from None
    return Limiter(
        client_key,
        app=app,
        default_limits=[settings.rate_limit],
        default_limits_exempt_when=_exempt,
        headers_enabled=True,
        strategy="moving-window",
        storage_uri=storage_uri(settings),
        storage_options={"socket_connect_timeout": 1, "socket_timeout": 1},
        swallow_errors=True,
        key_prefix="timeline-limits",
    )

"""API keys: ``Authorization: Bearer <key>``; admin implies write, write implies read."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, request
from flask_smorest import abort

F = TypeVar("F", bound=Callable[..., Any])

RANK = {"read": 0, "write": 1, "admin": 2}
BEARER = {"bearerAuth": {"type": "http", "scheme": "bearer"}}


def scope_of(presented: str, keys: Mapping[str, str]) -> str | None:
    """The scope of a presented key, comparing in constant time against every known key."""
    found = None
    for key, scope in keys.items():
        if hmac.compare_digest(presented.encode(), key.encode()):
            found = scope
    return found


def check(needed: str) -> None:
    """Abort with 401 (no or unknown key) or 403 (key lacks the scope) unless allowed."""
    settings = current_app.extensions["timeline"].settings
    if needed == "read" and not settings.read_requires_key:
        return
    header = request.headers.get("Authorization", "")
    kind, _, presented = header.partition(" ")
    if kind.lower() != "bearer" or not presented.strip():
        abort(
            401,
            message="An API key is required: send 'Authorization: Bearer <key>'.",
            headers={"WWW-Authenticate": 'Bearer realm="timeline"'},
        )
    scope = scope_of(presented.strip(), settings.api_keys)
    if scope is None:
        abort(
            401,
            message="Unknown API key.",
            headers={"WWW-Authenticate": 'Bearer realm="timeline", error="invalid_token"'},
        )
    if scope is None or RANK[scope] < RANK[needed]:
        abort(403, message=f"This API key has scope '{scope}'; this action needs '{needed}'.")


def require(needed: str) -> Callable[[F], F]:
    """Decorate a view so it runs only for a key with at least the ``needed`` scope."""

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            check(needed)
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate

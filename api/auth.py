"""API keys: ``Authorization: Bearer <key>``; admin implies write, write implies read.

Keys come from the key store (``timeline keys create``) or from ``TIMELINE_API_KEYS``. The
caller of a checked request is kept in ``g.caller`` (its key id and name go on the record).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, g, request
from flask_smorest import abort
from marshmallow import Schema, fields

from timeline.keys import bootstrap_caller

F = TypeVar("F", bound=Callable[..., Any])

RANK = {"read": 0, "write": 1, "admin": 2}
BEARER = {"bearerAuth": {"type": "http", "scheme": "bearer"}}


def identify() -> None:
    """Before anything else (the rate limit included): a request that presents a bearer key
    must present a valid one (401 otherwise), even where no key is needed; the caller goes
    in ``g.caller``. So a forged key is refused before it can buy a budget of its own."""
    header = request.headers.get("Authorization", "")
    kind, _, presented = header.partition(" ")
    if kind.lower() != "bearer" or not presented.strip():
        return
    services = current_app.extensions["timeline"]
    key = presented.strip()
    caller = bootstrap_caller(key, services.settings.api_keys, services.secret_key)
    caller = caller or services.keys.caller(key)
    if caller is None:
        abort(
            401,
            message="Unknown or revoked API key.",
            headers={"WWW-Authenticate": 'Bearer realm="timeline", error="invalid_token"'},
        )
    g.caller = caller


def check(needed: str) -> None:
    """Abort with 401 (no key) or 403 (the key lacks the scope) unless allowed (an invalid
    key was refused by :func:`identify`)."""
    if needed == "read" and not current_app.extensions["timeline"].settings.read_requires_key:
        return
    caller = g.get("caller")
    if caller is None:
        abort(
            401,
            message="An API key is required: send 'Authorization: Bearer <key>'.",
            headers={"WWW-Authenticate": 'Bearer realm="timeline"'},
        )
    if RANK[caller.scope] < RANK[needed]:
        abort(
            403, message=f"This API key has scope '{caller.scope}'; this action needs '{needed}'."
        )


def require(needed: str) -> Callable[[F], F]:
    """Decorate a view so it runs only for a key with at least the ``needed`` scope."""

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            check(needed)
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


def written_by() -> dict[str, str] | None:
    """Who is writing, for the record: the checked key's id and name."""
    caller = g.get("caller")
    return {"key_id": caller.key_id, "name": caller.name} if caller else None


class WrittenBy(Schema):
    """Which API key made a change (the shape of :func:`written_by`)."""

    key_id = fields.String()
    name = fields.String()

"""Cursor pagination: opaque, signed cursors, so a forged or damaged one is a clear 400."""

from __future__ import annotations

from typing import Any

from flask_smorest import abort
from itsdangerous import BadSignature, URLSafeSerializer
from marshmallow import fields, validate

from api.services import services


def Cursor() -> fields.String:
    """The ``cursor`` query parameter: pass ``next_cursor`` exactly as returned."""
    return fields.String(validate=validate.Length(max=500))


def _serializer(kind: str) -> URLSafeSerializer:
    return URLSafeSerializer(services().secret_key, salt=f"{kind}-cursor")


def encode_cursor(kind: str, key: list[Any]) -> str:
    """A cursor that continues after ``key`` in a listing of ``kind``."""
    return _serializer(kind).dumps(key)


def decode_cursor(kind: str, cursor: str, length: int) -> list[str]:
    """The key a cursor continues after; anything not issued by us for ``kind`` is a 400."""
    try:
        key = _serializer(kind).loads(cursor)
    except BadSignature:
        key = None
    if not isinstance(key, list) or len(key) != length:
        abort(
            400,
            message="Invalid cursor: pass next_cursor exactly as returned.",
            errors={"query": {"cursor": ["Invalid cursor."]}},
        )
    return [str(part) for part in key]

"""One paging convention for every listing: ``cursor`` in, ``next_cursor`` out.

Cursors are opaque and signed, so a forged or damaged one is a clear 400. Every listing takes
``limit`` (default 100, at most :data:`MAX_PAGE`). The raw log (`/events`) is the one exception:
it pages by log position (``after`` / ``next_after``) because a position is public, meaningful
data that consumers store and that the live feed's ``Last-Event-ID`` also uses.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response
from flask_smorest import abort
from itsdangerous import BadSignature, URLSafeSerializer
from marshmallow import Schema, fields, validate

from api.citation import citation_of, with_citation_headers
from api.services import services
from timeline.read_models import MAX_PAGE, Page


def Cursor() -> fields.String:
    """The ``cursor`` query parameter: pass ``next_cursor`` exactly as returned."""
    return fields.String(
        validate=validate.Length(max=500),
        metadata={"description": "Continue a listing: the previous page's next_cursor."},
    )


def Limit(default: int = 100, what: str = "Items") -> fields.Integer:
    """The ``limit`` query parameter, the same bounds on every listing."""
    return fields.Integer(
        load_default=default,
        validate=validate.Range(1, MAX_PAGE),
        metadata={"description": f"{what} per page (at most {MAX_PAGE})."},
    )


class PageArgs(Schema):
    """Paging of a listing."""

    cursor = Cursor()
    limit = Limit()


def _serializer(kind: str) -> URLSafeSerializer:
    return URLSafeSerializer(services().secret_key, salt=f"{kind}-cursor")


def encode_cursor(kind: str, key: list[Any]) -> str:
    """A cursor that continues after ``key`` in a listing of ``kind``."""
    return _serializer(kind).dumps(key)


def decode_cursor(kind: str, cursor: str | None, length: int) -> list[Any] | None:
    """The key a cursor continues after (None without a cursor); anything not issued by us for
    ``kind`` is a 400."""
    if cursor is None:
        return None
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
    return list(key)


def page_body(kind: str, page: Page) -> dict[str, Any]:
    """A listing's body: its items, the cursor to the next page, the position reflected."""
    next_cursor = encode_cursor(kind, page.next_key) if page.next_key else None
    return {"items": page.items, "next_cursor": next_cursor, "position": page.position}


def raw_page(kind: str, page: Page, items: list[str]) -> Response:
    """A listing whose items are already JSON text (stored ready to serve): sent as they are."""
    next_cursor = encode_cursor(kind, page.next_key) if page.next_key else None
    citation = citation_of(page.position)
    body = (
        '{"items":[' + ",".join(items) + '],"next_cursor":' + json.dumps(next_cursor)
        + ',"position":' + str(page.position) + ',"citation":' + json.dumps(citation) + "}"
    )  # fmt: skip
    return with_citation_headers(Response(body, mimetype="application/json"), citation)

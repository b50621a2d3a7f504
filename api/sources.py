"""HTTP shape of the sources' records."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import abort
from marshmallow import RAISE, Schema, fields

from api.auth import require
from api.citation import Cited
from api.consistency import (
    AtPositionArgs,
    MinPosition,
    await_position,
    with_position,
)
from api.fields import Clock, StoredTimestamp, Timestamp
from api.json_bodies import Blueprint
from api.paging import PageArgs, decode_cursor, page_body
from api.services import services
from timeline.domain.values import timestamp
from timeline.read_models import Page, SourcesFilter

PROJECTION = "sources"

blp = Blueprint(
    "sources",
    __name__,
    url_prefix="/api/v1/sources",
    description="Who asserts, who denies, who is contradicted: the `sources` projection.",
)


class SourceArgs(AtPositionArgs):
    """As known when."""

    as_of = Timestamp()
    clock = Clock()
    min_position = MinPosition()


class SourcesArgs(SourceArgs, PageArgs):
    """As known when, a page at a time (most prolific first)."""


class SourceRecord(Schema):
    """One source's record."""

    name = fields.String()
    side = fields.String()
    type = fields.String()
    statements = fields.Integer()
    claims = fields.Integer()
    denials_issued = fields.Integer()
    corrections = fields.Integer()
    retractions = fields.Integer()
    denied = fields.Integer(metadata={"description": "Its statements denied by another side."})
    contradicted = fields.Integer(
        metadata={"description": "Its statements answered by another side other than to confirm."}
    )
    first_statement_at = StoredTimestamp()
    last_statement_at = StoredTimestamp()


class SourcesPage(Cited):
    """Every source, and the log position this reflects."""

    items = fields.List(fields.Nested(SourceRecord))
    next_cursor = fields.String(allow_none=True)
    position = fields.Integer(metadata={"description": "The log position this page reflects."})


class OneSource(SourceRecord, Cited):
    """One source, and the log position this reflects."""

    position = fields.Integer()


def _read(args: dict[str, Any], name: str | None) -> Page:
    await_position(PROJECTION, args.get("min_position"))
    await_position(PROJECTION, args.get("at_position"), "at_position")
    as_of = timestamp(args["as_of"], "as_of") if args.get("as_of") else None
    after = decode_cursor(PROJECTION, args.get("cursor"), 4)
    where = SourcesFilter(name, as_of, args["clock"], args.get("at_position"))
    return services().reads.sources(where, after, args.get("limit", 100))


@blp.route("")
class Sources(MethodView):
    """All sources."""

    @require("read")
    @blp.arguments(SourcesArgs(), location="query", unknown=RAISE)
    @blp.response(200, SourcesPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Sources' records, most prolific first."""
        page = _read(args, None)
        return with_position(SourcesPage().dump(page_body(PROJECTION, page)), page.position)


@blp.route("/<string:name>")
class Source(MethodView):
    """One source."""

    @require("read")
    @blp.arguments(SourceArgs(), location="query", unknown=RAISE)
    @blp.response(200, OneSource)
    @blp.alt_response(404, description="No statement by this source (as of then).")
    def get(self, args: dict[str, Any], name: str) -> Any:
        """One source's record (URL-encode the name)."""
        page = _read(args, name)
        if not page.items:
            abort(404, message=f"No statements by a source named {name!r}.")
        body = OneSource().dump({**page.items[0], "position": page.position})
        return with_position(body, page.position)

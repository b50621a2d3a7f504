"""HTTP shape of the sources' records."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import RAISE, Schema, fields

from api.auth import require
from api.consistency import MinPosition, await_position, with_position
from api.fields import StoredTimestamp, Timestamp
from api.services import services
from timeline.domain.values import timestamp
from timeline.projections.catchup import read_position
from timeline.projections.sources import query_sources

PROJECTION = "sources"

blp = Blueprint(
    "sources",
    __name__,
    url_prefix="/api/v1/sources",
    description="Who asserts, who denies, who is contradicted: the `sources` projection.",
)


class SourcesArgs(Schema):
    """As known when."""

    as_of = Timestamp()
    min_position = MinPosition()


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


class SourcesPage(Schema):
    """Every source, and the log position this reflects."""

    items = fields.List(fields.Nested(SourceRecord))
    position = fields.Integer()


class OneSource(SourceRecord):
    """One source, and the log position this reflects."""

    position = fields.Integer()


def _read(args: dict[str, Any], name: str | None) -> tuple[list[dict[str, Any]], int]:
    await_position(PROJECTION, args.get("min_position"))
    as_of = timestamp(args["as_of"], "as_of") if args.get("as_of") else None
    with services().views.snapshot() as cursor:
        return query_sources(cursor, name, as_of), read_position(cursor, PROJECTION)


@blp.route("")
class Sources(MethodView):
    """All sources."""

    @require("read")
    @blp.arguments(SourcesArgs(), location="query", unknown=RAISE)
    @blp.response(200, SourcesPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Every source's record, most prolific first."""
        items, position = _read(args, None)
        return with_position(SourcesPage().dump({"items": items, "position": position}), position)


@blp.route("/<string:name>")
class Source(MethodView):
    """One source."""

    @require("read")
    @blp.arguments(SourcesArgs(), location="query", unknown=RAISE)
    @blp.response(200, OneSource)
    @blp.alt_response(404, description="No statement by this source (as of then).")
    def get(self, args: dict[str, Any], name: str) -> Any:
        """One source's record (URL-encode the name)."""
        items, position = _read(args, name)
        if not items:
            abort(404, message=f"No statements by a source named {name!r}.")
        return with_position(OneSource().dump({**items[0], "position": position}), position)

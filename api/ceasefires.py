"""HTTP shape of ceasefires against the fighting reported inside their windows."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from api.auth import require
from api.citation import Cited
from api.consistency import AtPositionArgs, MinPosition, await_position
from api.fields import Clock, StoredTimestamp, Timestamp
from api.json_bodies import Blueprint
from api.paging import PageArgs, decode_cursor, raw_page
from api.services import services
from timeline.domain.values import MAX_SIDE, timestamp
from timeline.read_models import CeasefireFilter

PROJECTION = "ceasefires"

blp = Blueprint(
    "ceasefires",
    __name__,
    url_prefix="/api/v1/ceasefires",
    description="Ceasefire vs violations, built by the `ceasefires` projection.",
)


class CeasefiresArgs(PageArgs, AtPositionArgs):
    """Which ceasefires, as known when, a page at a time (by window start)."""

    start = Timestamp(data_key="from", metadata={"description": "Windows ending after this."})
    end = Timestamp(data_key="to", metadata={"description": "Windows starting at/before this."})
    party = fields.String(validate=validate.Length(1, MAX_SIDE), metadata={"example": "RU"})
    as_of = Timestamp()
    clock = Clock()
    min_position = MinPosition()

    @validates_schema
    def check_order(self, data: dict[str, Any], **_: Any) -> None:
        """``from`` must not be after ``to``."""
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise ValidationError("'from' must not be after 'to'.", "from")


class Speaker(Schema):
    """A statement's source, briefly."""

    statement_id = fields.String()
    name = fields.String()
    side = fields.String()
    type = fields.String()
    stance = fields.String()
    stated_at = StoredTimestamp()


class Window(Schema):
    """When a ceasefire applies: from ``start`` up to, not including, ``end`` (none: it runs
    on)."""

    start = StoredTimestamp()
    end = StoredTimestamp(allow_none=True)


class Violation(Schema):
    """Fighting reported inside a ceasefire's window."""

    id = fields.String()
    title = fields.String()
    kind = fields.String()
    start = StoredTimestamp()
    end = StoredTimestamp(allow_none=True)
    country = fields.String(allow_none=True)
    accused = fields.List(fields.String())
    reported_by = fields.List(fields.Nested(Speaker))
    denied_by = fields.List(fields.Nested(Speaker))
    status = fields.String(metadata={"enum": ["reported", "disputed"]})


class Ceasefire(Schema):
    """A ceasefire and what happened during it."""

    id = fields.String()
    title = fields.String()
    window = fields.Nested(Window)
    scope = fields.String(allow_none=True, metadata={"description": "Country, when named."})
    parties = fields.List(
        fields.String(), metadata={"description": "The sides of the ceasefire's actors."}
    )
    declared_by = fields.List(fields.Nested(Speaker))
    violations = fields.List(fields.Nested(Violation))
    status = fields.String(metadata={"enum": ["held", "violated", "disputed"]})


class CeasefiresPage(Cited):
    """The ceasefires, and the log position they reflect."""

    items = fields.List(fields.Nested(Ceasefire))
    next_cursor = fields.String(allow_none=True)
    position = fields.Integer(metadata={"description": "The log position this page reflects."})


@blp.route("")
class Ceasefires(MethodView):
    """Ceasefires."""

    @require("read")
    @blp.arguments(CeasefiresArgs(), location="query", unknown=RAISE)
    @blp.response(200, CeasefiresPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Ceasefires by window start, each with the fighting reported inside its window."""
        await_position(PROJECTION, args.get("min_position"))
        await_position(PROJECTION, args.get("at_position"), "at_position")
        where = CeasefireFilter(
            start=timestamp(args["start"], "from") if args.get("start") else None,
            end=timestamp(args["end"], "to") if args.get("end") else None,
            party=args.get("party"),
            as_of=timestamp(args["as_of"], "as_of") if args.get("as_of") else None,
            clock=args["clock"],
            at_position=args.get("at_position"),
        )
        after = decode_cursor(PROJECTION, args.get("cursor"), 2)
        page = services().reads.ceasefires(where, after, args["limit"])
        # Stored in the Ceasefire shape, ready to serve: no per-row dumping here
        # (`make contract` checks the answers against the documented schema).
        return raw_page(PROJECTION, page, [row["item"] for row in page.items])

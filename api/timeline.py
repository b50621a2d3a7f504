"""HTTP shape of the timeline: filtered, cursor-paginated, optionally as known at a time."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema
from webargs.fields import DelimitedList

from api.auth import require
from api.consistency import MinPosition, await_position
from api.fields import StoredTimestamp, Timestamp
from api.incidents import IncidentSummary
from api.paging import PageArgs, decode_cursor, raw_page
from api.services import services
from api.statements import StatementOut
from timeline.domain.values import KINDS, MAX_SIDE, MAX_SOURCE_NAME, STANCES, timestamp
from timeline.read_models import TimelineFilter

blp = Blueprint(
    "timeline",
    __name__,
    url_prefix="/api/v1/timeline",
    description="The timeline of incidents and statements, built by the `timeline` projection.",
)

PROJECTION = "timeline"


class TimelineArgs(PageArgs):
    """Filters (combined with AND), pagination and replay."""

    start = Timestamp(data_key="from", metadata={"description": "Items at or after this time."})
    end = Timestamp(data_key="to", metadata={"description": "Items at or before this time."})
    kind = DelimitedList(fields.String(validate=validate.OneOf(KINDS)))
    side = DelimitedList(fields.String(validate=validate.Length(1, MAX_SIDE)))
    source = fields.String(validate=validate.Length(1, MAX_SOURCE_NAME))
    stance = DelimitedList(fields.String(validate=validate.OneOf(STANCES)))
    incident = fields.UUID()
    type = fields.String(validate=validate.OneOf(("incident", "statement")))
    q = fields.String(validate=validate.Length(1, 200), metadata={"description": "Text search."})
    bbox = DelimitedList(
        fields.Float(),
        validate=validate.Length(equal=4),
        metadata={"description": "min_lon,min_lat,max_lon,max_lat"},
    )
    as_of = Timestamp(metadata={"description": "The timeline as it was known at this time."})
    min_position = MinPosition()

    @validates_schema
    def check_ranges(self, data: dict[str, Any], **_: Any) -> None:
        """``from`` must not be after ``to``; a bbox's minimums must not exceed its maximums."""
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise ValidationError("'from' must not be after 'to'.", "from")
        box = data.get("bbox")
        if box and (box[0] > box[2] or box[1] > box[3]):
            raise ValidationError(
                "bbox is min_lon,min_lat,max_lon,max_lat with min <= max.", "bbox"
            )


class TimelineStatement(StatementOut):
    """A statement on the timeline (withdrawn ones are not on it)."""

    class Meta:
        exclude = ("recorded_at", "withdrawn")


class TimelineItem(Schema):
    """An incident or a statement on the timeline."""

    type = fields.String(metadata={"enum": ["incident", "statement"]})
    id = fields.String()
    at = StoredTimestamp(metadata={"description": "When it occurred or was said."})
    recorded_at = StoredTimestamp()
    position = fields.Integer()
    incident = fields.Nested(IncidentSummary)
    statement = fields.Nested(TimelineStatement)


class TimelinePage(Schema):
    """A page of the timeline."""

    items = fields.List(fields.Nested(TimelineItem))
    next_cursor = fields.String(allow_none=True)
    position = fields.Integer(metadata={"description": "The log position this page reflects."})


@blp.route("")
class Timeline(MethodView):
    """The timeline."""

    @require("read")
    @blp.arguments(TimelineArgs(), location="query", unknown=RAISE)
    @blp.response(200, TimelinePage)
    @blp.alt_response(400, description="The cursor was altered.")
    @blp.alt_response(503, description="The projection did not reach min_position in time.")
    @blp.alt_response(422, description="Invalid filter, or min_position beyond the log's head.")
    def get(self, args: dict[str, Any]) -> Any:
        """Incidents and statements in time order, filtered and paginated."""
        await_position(PROJECTION, args.get("min_position"))
        where = TimelineFilter(
            start=timestamp(args["start"], "from") if args.get("start") else None,
            end=timestamp(args["end"], "to") if args.get("end") else None,
            kind=args.get("kind", ()),
            side=args.get("side", ()),
            source=args.get("source"),
            stance=args.get("stance", ()),
            incident=str(args["incident"]) if args.get("incident") else None,
            item_type=args.get("type"),
            q=args.get("q"),
            bbox=tuple(args["bbox"]) if args.get("bbox") else None,
            as_of=timestamp(args["as_of"], "as_of") if args.get("as_of") else None,
        )
        after = decode_cursor(PROJECTION, args.get("cursor"), 2)
        page = services().reads.timeline(where, after, args["limit"])
        # Rows are stored in the TimelineItem shape, ready to serve: no per-row dumping here
        # (tests/api/test_fuzz.py checks the answers against the documented schema).
        return raw_page(PROJECTION, page, [row["item"] for row in page.items])

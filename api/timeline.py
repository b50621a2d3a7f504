"""HTTP shape of the timeline: filtered, cursor-paginated, optionally as known at a time."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import RAISE, Schema, fields, validate
from webargs.fields import DelimitedList

from api.auth import require
from api.citation import Cited
from api.consistency import await_position
from api.exports import FormatArg, file_responses, streamed, wanted
from api.fields import StoredTimestamp
from api.filters import IncidentFilters, timeline_filter
from api.incidents import IncidentSummary
from api.json_bodies import Blueprint
from api.paging import decode_cursor, raw_page
from api.services import services
from api.statements import StatementOut
from timeline.domain.values import MAX_SOURCE_NAME, SIDE_PATTERN, STANCES
from timeline.exports import TIMELINE_WRITERS

blp = Blueprint(
    "timeline",
    __name__,
    url_prefix="/api/v1/timeline",
    description="The timeline of incidents and statements, built by the `timeline` projection.",
)

PROJECTION = "timeline"


class TimelineArgs(IncidentFilters):
    """Filters (combined with AND), pagination and replay."""

    side = DelimitedList(
        fields.String(validate=validate.Regexp(SIDE_PATTERN, error="Not a side code.")),
        metadata={"description": "The speakers' sides (codes, any case), e.g. RU,UA."},
    )
    source = fields.String(validate=validate.Length(1, MAX_SOURCE_NAME))
    stance = DelimitedList(fields.String(validate=validate.OneOf(STANCES)))
    incident = fields.UUID()
    type = fields.String(validate=validate.OneOf(("incident", "statement")))
    format = FormatArg(TIMELINE_WRITERS, "item")


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


class TimelinePage(Cited):
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
    @blp.doc(**file_responses(TIMELINE_WRITERS, "item"))
    @blp.alt_response(400, description="The cursor was altered.")
    @blp.alt_response(503, description="The projection did not reach min_position in time.")
    @blp.alt_response(422, description="Invalid filter, or min_position beyond the log's head.")
    def get(self, args: dict[str, Any]) -> Any:
        """Incidents and statements in time order, filtered and paginated."""
        await_position(PROJECTION, args.get("min_position"))
        await_position("timeline", args.get("at_position"), "at_position")
        where = timeline_filter(args, item_type=args.get("type"))
        data_format = wanted(args.get("format"), TIMELINE_WRITERS)
        if data_format is not None:
            export = services().reads.export_timeline(where)
            return streamed(export, data_format, "timeline", TIMELINE_WRITERS)
        after = decode_cursor(PROJECTION, args.get("cursor"), 2)
        page = services().reads.timeline(where, after, args["limit"])
        # Rows are stored in the TimelineItem shape, ready to serve: no per-row dumping here
        # (`make contract` checks the answers against the documented schema).
        return raw_page(PROJECTION, page, [row["item"] for row in page.items])

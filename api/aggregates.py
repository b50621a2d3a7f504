"""Counts over time: incidents, statements and figures by day, week or month, grouped."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from api.auth import require
from api.citation import Cited
from api.consistency import MinPosition, await_position, with_position
from api.filters import NARROWING, IncidentScope, timeline_filter
from api.json_bodies import Blueprint
from api.services import services
from timeline.domain.values import METRIC_PATTERN
from timeline.read_models import AggregatesFilter

PROJECTION = "aggregates"
GROUPS = ("kind", "country", "admin1", "actor", "dataset", "source_side", "claimant_side")

blp = Blueprint(
    "aggregates",
    __name__,
    url_prefix="/api/v1/aggregates",
    description="Time series, built by the `aggregates` projection.",
)


class AggregatesArgs(IncidentScope):
    """What to count, grouped how, in which buckets, between which days."""

    measure = fields.String(
        load_default="incidents",
        validate=validate.Regexp(
            rf"^(incidents|statements|figure:{METRIC_PATTERN[1:-1]})$",
            error="incidents, statements, or figure:<metric> (e.g. figure:killed).",
        ),
        metadata={
            "description": "incidents (by the day they occurred), statements (by the day "
            "they were made), or figure:<metric> — the figures given about the incidents of "
            "each day: how many, the sum of their values (best), of their lows and highs."
        },
    )
    interval = fields.String(
        load_default="month", validate=validate.OneOf(("day", "week", "month"))
    )
    group_by = fields.String(
        validate=validate.OneOf(GROUPS),
        metadata={
            "description": "kind, country, admin1, actor (name or side), dataset (the "
            "namespaces of its external ids; an analyst's own incident: null), source_side "
            "(who made a statement; statements only), claimant_side (who gave a figure; "
            "figures only). What has no value for the grouping (no country, no admin1, no "
            "actor) is the group null, so the groups add up to the ungrouped count (by actor, "
            "an incident counts once for each of its actors; by dataset, once for each "
            "dataset that names it)."
        },
    )
    start = fields.Date(data_key="from", metadata={"description": "From this day."})
    end = fields.Date(data_key="to", metadata={"description": "To this day (inclusive)."})
    min_position = MinPosition()

    @validates_schema
    def check(self, data: dict[str, Any], **_: Any) -> None:
        """Each side grouping goes with its measure; ``from`` not after ``to``."""
        group, measure = data.get("group_by"), data.get("measure", "incidents")
        if group == "source_side" and measure != "statements":
            raise ValidationError("source_side groups statements only.", "group_by")
        if group == "claimant_side" and not measure.startswith("figure:"):
            raise ValidationError("claimant_side groups figures only.", "group_by")
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise ValidationError("'from' must not be after 'to'.", "from")


class Bucket(Schema):
    """One bucket of one group."""

    start = fields.String(metadata={"description": "The bucket's first day."})
    group = fields.String(allow_none=True)
    count = fields.Integer()
    best = fields.Float(metadata={"description": "figure:<metric>: the sum of the values."})
    low = fields.Float()
    high = fields.Float()


class Aggregates(Cited):
    """Every bucket, in time order, and the log position it reflects."""

    measure = fields.String()
    interval = fields.String()
    group_by = fields.String(allow_none=True)
    items = fields.List(fields.Nested(Bucket))
    position = fields.Integer()


@blp.route("")
class AggregatesResource(MethodView):
    """Counts over time."""

    @require("read")
    @blp.arguments(AggregatesArgs(), location="query", unknown=RAISE)
    @blp.response(200, Aggregates)
    def get(self, args: dict[str, Any]) -> Any:
        """Incidents, statements or a metric's figures per day, week or month, grouped.

        Without filters, of the current state (retired incidents and withdrawn statements left
        out), kept by a projection: flat in the size of the log. With incident filters (metric
        included), `as_of` or `retired`, counted from the matching incidents by the same rules
        (its cost follows how many match).
        """
        await_position(PROJECTION, args.get("min_position"))
        await_position("timeline", args.get("at_position"), "at_position")
        where = AggregatesFilter(
            measure=args["measure"],
            group_by=args.get("group_by"),
            interval=args["interval"],
            start=args["start"].isoformat() if args.get("start") else None,
            end=args["end"].isoformat() if args.get("end") else None,
        )
        # Narrowed (or as of a time): counted from the incidents in scope, the days (from,
        # to) being the buckets' range, not the incidents' times.
        narrowed = any(args.get(k) for k in NARROWING) or args.get("at_position") is not None
        scope = timeline_filter({**args, "start": None, "end": None}) if narrowed else None
        page = services().reads.aggregates(where, scope)
        body = {
            "measure": where.measure,
            "interval": where.interval,
            "group_by": where.group_by,
            "items": page.items,
            "position": page.position,
        }
        return with_position(Aggregates().dump(body), page.position)

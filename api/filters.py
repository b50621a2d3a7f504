"""The filters shared by the timeline and the incident listing: one definition of each."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema
from webargs.fields import DelimitedList

from api.consistency import AtPositionArgs, MinPosition
from api.fields import Clock, Timestamp
from api.paging import PageArgs
from timeline.domain.quality import CODES
from timeline.domain.values import (
    KINDS,
    MAX_NAME,
    MAX_TAG,
    METRIC_PATTERN,
    NAMESPACE_PATTERN,
    timestamp,
)
from timeline.read_models import TimelineFilter


class IncidentScope(AtPositionArgs):
    """Which incidents (combined with AND), as known when: what the listings and the
    aggregates narrow by."""

    kind = DelimitedList(fields.String(validate=validate.OneOf(KINDS)))
    actor = fields.String(
        validate=validate.Length(1, MAX_NAME),
        metadata={"description": "An actor's name or side (any of the incident's actors)."},
    )
    tag = fields.String(validate=validate.Length(1, MAX_TAG))
    country = fields.String(validate=validate.Length(1, MAX_NAME), metadata={"example": "UA"})
    admin1 = fields.String(validate=validate.Length(1, MAX_NAME))
    namespace = fields.String(
        validate=validate.Regexp(NAMESPACE_PATTERN),
        metadata={"description": "Has an external id in this dataset namespace (e.g. acled)."},
    )
    metric = fields.String(
        validate=validate.Regexp(METRIC_PATTERN),
        metadata={"description": "Has a live figure of this metric (e.g. killed)."},
    )
    flag = fields.String(
        validate=validate.OneOf(list(CODES)),
        metadata={"description": "Has this quality flag (its own, or a live statement's)."},
    )
    flagged = fields.Boolean(
        metadata={"description": "true: only incidents with a quality flag (their own, or a "
                  "live statement's); false: only those without."},
    )  # fmt: skip
    as_of = Timestamp(metadata={"description": "As it was known at this time."})
    clock = Clock()
    retired = fields.Boolean(
        load_default=False,
        metadata={"description": "Include retired incidents (marked so); default: leave out."},
    )
    dedupe = fields.String(
        validate=validate.OneOf(["linked"]),
        metadata={"description": "linked: each group of incidents linked as one event (the "
                  "links held now) counts once, as its first member the other filters match; "
                  "statements stay every member's (they are the competing claims)."},
    )  # fmt: skip


# The scope's arguments that narrow it (clock alone does not: it qualifies as_of).
NARROWING = (
    "kind", "actor", "tag", "country", "admin1", "namespace", "metric", "flag", "flagged",
    "as_of", "retired", "dedupe", "at_position",
)  # fmt: skip


class IncidentQuery(IncidentScope):
    """Filters on incidents (combined with AND) and replay."""

    start = Timestamp(data_key="from", metadata={"description": "At or after this time."})
    end = Timestamp(data_key="to", metadata={"description": "At or before this time."})
    q = fields.String(validate=validate.Length(1, 200), metadata={"description": "Text search."})
    bbox = DelimitedList(
        fields.Float(),
        validate=validate.Length(equal=4),
        metadata={"description": "min_lon,min_lat,max_lon,max_lat"},
    )
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


class IncidentFilters(IncidentQuery, PageArgs):
    """Filters on incidents (combined with AND), pagination and replay."""


def timeline_filter(args: dict[str, Any], **more: Any) -> TimelineFilter:
    """The query layer's filter from parsed arguments (statement filters when given)."""
    return TimelineFilter(
        start=timestamp(args["start"], "from") if args.get("start") else None,
        end=timestamp(args["end"], "to") if args.get("end") else None,
        kind=args.get("kind", ()),
        side=args.get("side", ()),
        source=args.get("source"),
        stance=args.get("stance", ()),
        incident=str(args["incident"]) if args.get("incident") else None,
        q=args.get("q"),
        bbox=tuple(args["bbox"]) if args.get("bbox") else None,
        as_of=timestamp(args["as_of"], "as_of") if args.get("as_of") else None,
        clock=args.get("clock", "recorded"),
        retired=args.get("retired", False),
        **{k: args.get(k) for k in ("actor", "tag", "country", "admin1", "namespace", "metric")},
        flag=args.get("flag"),
        flagged=args.get("flagged"),
        dedupe=args.get("dedupe") == "linked",
        at_position=args.get("at_position"),
        **more,
    )

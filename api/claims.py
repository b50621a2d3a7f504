"""HTTP shape of contested figures: who claimed which number, who disputed it."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import RAISE, Schema, fields, validate

from api.auth import require
from api.citation import Cited
from api.consistency import (
    AtPositionArgs,
    MinPosition,
    await_position,
    with_position,
)
from api.exports import FormatArg, file_responses, streamed, wanted
from api.fields import Clock, StoredTimestamp, Timestamp
from api.json_bodies import Blueprint
from api.paging import Cursor, Limit, decode_cursor, page_body
from api.services import services
from api.statements import SourceSchema
from timeline.domain.values import COMMON_METRICS, MAX_NAME, METRIC_PATTERN, timestamp
from timeline.exports import CLAIM_WRITERS
from timeline.read_models import ClaimsFilter

PROJECTION = "claims"

blp = Blueprint(
    "claims",
    __name__,
    url_prefix="/api/v1/claims",
    description="Contested figures, built by the `claims` projection.",
)


class ClaimsArgs(AtPositionArgs):
    """Which figures, and as known when."""

    incident = fields.UUID()
    metric = fields.String(
        validate=validate.Regexp(METRIC_PATTERN, error="Must be a snake_case metric."),
        metadata={"description": f"e.g. {', '.join(COMMON_METRICS)}"},
    )
    subject = fields.String(validate=validate.Length(1, MAX_NAME))
    as_of = Timestamp()
    clock = Clock()
    min_position = MinPosition()
    limit = Limit(what="Incidents (with all their groups)")
    cursor = Cursor()
    format = FormatArg(CLAIM_WRITERS, "figure group")


class ClaimedFigure(Schema):
    """One figure one source gave."""

    statement_id = fields.String()
    source = fields.Nested(SourceSchema)
    stance = fields.String()
    qualifier = fields.String()
    value = fields.Raw(metadata={"type": "number"})
    low = fields.Raw(allow_none=True, metadata={"type": "number"})
    high = fields.Raw(allow_none=True, metadata={"type": "number"})
    stated_at = StoredTimestamp()
    superseded = fields.Boolean(metadata={"description": "Corrected or retracted by its source."})


class Dispute(Schema):
    """A denial answering one of the group's statements."""

    statement_id = fields.String()
    source = fields.Nested(SourceSchema)
    responds_to = fields.String()
    stated_at = StoredTimestamp()


class IncidentRef(Schema):
    """The incident a group belongs to."""

    id = fields.String()
    title = fields.String()
    kind = fields.String()


class ClaimGroup(Schema):
    """Every figure for one incident, metric, subject."""

    incident = fields.Nested(IncidentRef)
    metric = fields.String()
    subject = fields.String(allow_none=True)
    figures = fields.List(fields.Nested(ClaimedFigure))
    disputed_by = fields.List(fields.Nested(Dispute))
    low = fields.Raw(allow_none=True, metadata={"type": "number"})
    high = fields.Raw(allow_none=True, metadata={"type": "number"})
    contested = fields.Boolean()


class ClaimsPage(Cited):
    """The groups, and the log position they reflect."""

    items = fields.List(fields.Nested(ClaimGroup))
    next_cursor = fields.String(allow_none=True)
    position = fields.Integer()


@blp.route("")
class Claims(MethodView):
    """Contested figures."""

    @require("read")
    @blp.arguments(ClaimsArgs(), location="query", unknown=RAISE)
    @blp.response(200, ClaimsPage)
    @blp.doc(**file_responses(CLAIM_WRITERS, "figure group"))
    def get(self, args: dict[str, Any]) -> Any:
        """Per incident, metric, subject: every figure by source, the range, contested or not."""
        await_position(PROJECTION, args.get("min_position"))
        await_position(PROJECTION, args.get("at_position"), "at_position")
        where = ClaimsFilter(
            incident=str(args["incident"]) if args.get("incident") else None,
            metric=args.get("metric"),
            subject=args.get("subject"),
            as_of=timestamp(args["as_of"], "as_of") if args.get("as_of") else None,
            clock=args["clock"],
            at_position=args.get("at_position"),
        )
        data_format = wanted(args.get("format"), CLAIM_WRITERS)
        if data_format is not None:
            export = services().reads.export_claims(where)
            return streamed(export, data_format, "claims", CLAIM_WRITERS)
        after = decode_cursor(PROJECTION, args.get("cursor"), 1)
        page = services().reads.claims(where, after, args["limit"])
        return with_position(ClaimsPage().dump(page_body(PROJECTION, page)), page.position)

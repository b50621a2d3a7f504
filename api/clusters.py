"""A linked group of incidents answered as one event (see timeline.projections.clusters)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

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
from api.incidents import IncidentSummary
from api.json_bodies import Blueprint
from api.links import LinkOut
from api.services import services
from api.statements import StatementOut
from timeline.domain.values import timestamp

blp = Blueprint(
    "clusters", __name__, url_prefix="/api/v1/clusters",
    description="Incidents linked as one event: each dataset's version side by side.",
)  # fmt: skip


class ClusterArgs(AtPositionArgs):
    """As linked and known when."""

    as_of = Timestamp(metadata={"description": "The group as linked, and its members as "
                                "known, at this time."})  # fmt: skip
    clock = Clock()
    min_position = MinPosition()


class Member(Schema):
    """One dataset's version of the event."""

    claimant = fields.String(
        metadata={"description": "Its dataset namespace(s), or own (an analyst's incident)."}
    )
    incident = fields.Nested(IncidentSummary)
    statements = fields.List(fields.Nested(StatementOut))


class Claim(Schema):
    """One figure a member gives."""

    claimant = fields.String()
    incident_id = fields.String()
    statement_id = fields.String()
    source = fields.String()
    value = fields.Float()
    qualifier = fields.String()
    low = fields.Float(allow_none=True)
    high = fields.Float(allow_none=True)
    subject = fields.String(
        allow_none=True, metadata={"description": "Whom it counts, when not everyone."}
    )


class Spread(Schema):
    """How far the figures of one metric disagree."""

    min = fields.Float()
    max = fields.Float()
    range = fields.Float()
    claimants = fields.Integer(metadata={"description": "How many claimants give one."})


class CompetingFigures(Schema):
    """One metric: every member's figures as competing claims."""

    metric = fields.String()
    claims = fields.List(fields.Nested(Claim))
    spread = fields.Nested(Spread)


class Disagreement(Schema):
    """Where the members' versions differ."""

    first_start = StoredTimestamp()
    last_start = StoredTimestamp()
    days_apart = fields.Float()
    km_apart = fields.Float(
        allow_none=True, metadata={"description": "The widest distance between members."}
    )
    places = fields.List(fields.String())
    kinds = fields.List(fields.String())


class ClusterOut(Cited):
    """A linked group: its members, the links that make it, their figures and differences."""

    id = fields.String(metadata={"description": "The group's id: its smallest member id."})
    members = fields.List(fields.Nested(Member))
    links = fields.List(fields.Nested(LinkOut))
    figures = fields.List(fields.Nested(CompetingFigures))
    disagreement = fields.Nested(Disagreement)
    position = fields.Integer(
        metadata={"description": "The log position this answer reflects (links and timeline)."}
    )


@blp.route("/<uuid:incident_id>")
class Cluster(MethodView):
    """The group an incident belongs to."""

    @require("read")
    @blp.arguments(ClusterArgs(), location="query", unknown=RAISE)
    @blp.response(200, ClusterOut)
    @blp.alt_response(404, description="No such incident (as known then).")
    def get(self, args: dict[str, Any], incident_id: UUID) -> Any:
        """The linked group of any of its members (a group of one when it is linked to
        nothing): each dataset's version side by side, the figures as competing claims with
        their spread, and where dates, places and kinds disagree."""
        await_position("links", args.get("min_position"))
        for projection in ("links", "timeline"):
            await_position(projection, args.get("at_position"), "at_position")
        at = timestamp(args["as_of"], "as_of") if args.get("as_of") else None
        found, position = services().reads.cluster(
            str(incident_id), args["clock"], at, args.get("at_position")
        )
        if found is None:
            abort(404, message=f"No incident {incident_id} (as known then).")
        return with_position(ClusterOut().dump({**(found or {}), "position": position}), position)

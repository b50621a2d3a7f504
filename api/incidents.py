"""HTTP shape of an incident: report, read (as known at a time), amend."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from api.auth import require
from api.fields import StoredTimestamp, Timestamp
from api.services import services
from api.statements import StatementIn, StatementOut, as_domain
from timeline.domain.values import KINDS, PRECISIONS

blp = Blueprint(
    "incidents",
    __name__,
    url_prefix="/api/v1/incidents",
    description="Incidents: things that happened or were announced, with their statements.",
)


class OccurredSchema(Schema):
    """When it happened, and how precisely that is known."""

    start = Timestamp(required=True)
    end = Timestamp(allow_none=True)
    precision = fields.String(load_default="minute", validate=validate.OneOf(PRECISIONS))


class LocationSchema(Schema):
    """Where it happened."""

    name = fields.String(required=True, validate=validate.Length(1, 200))
    admin1 = fields.String(allow_none=True)
    country = fields.String(allow_none=True, metadata={"example": "UA"})
    lat = fields.Float(allow_none=True, validate=validate.Range(-90, 90))
    lon = fields.Float(allow_none=True, validate=validate.Range(-180, 180))
    precision = fields.String(allow_none=True)


class IncidentFields(Schema):
    """The fields that describe an incident."""

    title = fields.String(required=True, validate=validate.Length(1, 500))
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    occurred = fields.Nested(OccurredSchema, required=True)
    location = fields.Nested(LocationSchema, allow_none=True)
    actors = fields.List(fields.String(), load_default=list, metadata={"example": ["RU", "UA"]})
    tags = fields.List(fields.String(), load_default=list)


class IncidentIn(IncidentFields):
    """A new incident; ``id`` makes a retried request safe, ``statements`` records them at once."""

    id = fields.UUID()
    statements = fields.List(fields.Nested(StatementIn), load_default=list)


class IncidentAmendment(Schema):
    """Fields to change, and why."""

    title = fields.String(validate=validate.Length(1, 500))
    kind = fields.String(validate=validate.OneOf(KINDS))
    occurred = fields.Nested(OccurredSchema)
    location = fields.Nested(LocationSchema, allow_none=True)
    actors = fields.List(fields.String())
    tags = fields.List(fields.String())
    reason = fields.String(required=True, validate=validate.Length(1, 2000))


class OccurredOut(Schema):
    """Stored occurrence times (UTC)."""

    start = StoredTimestamp()
    end = StoredTimestamp(allow_none=True)
    precision = fields.String()


class IncidentSummary(Schema):
    """An incident's own fields."""

    id = fields.String()
    title = fields.String()
    kind = fields.String()
    occurred = fields.Nested(OccurredOut)
    location = fields.Nested(LocationSchema, allow_none=True)
    actors = fields.List(fields.String())
    tags = fields.List(fields.String())


class IncidentOut(IncidentSummary):
    """An incident with its statements, as known at the time asked for."""

    version = fields.Integer()
    reported_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    statements = fields.List(fields.Nested(StatementOut))
    as_of = fields.AwareDateTime(allow_none=True)
    clock = fields.String()


class IncidentWritten(Schema):
    """Where a write landed in the log."""

    id = fields.String()
    version = fields.Integer()
    position = fields.Integer()
    recorded_at = fields.AwareDateTime()
    statements = fields.List(fields.Nested(StatementOut))
    changes = fields.Dict()


class AsOfArgs(Schema):
    """Replay the incident to what was known at a time."""

    as_of = Timestamp(metadata={"description": "Show the incident as known at this time."})
    clock = fields.String(
        load_default="recorded",
        validate=validate.OneOf(("recorded", "stated")),
        metadata={"description": "recorded: when the service stored it; stated: when it was said."},
    )


def incident_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Schema data → the domain's incident fields (only those given)."""
    return {k: v for k, v in data.items() if k not in ("id", "statements", "reason")}


@blp.route("")
class Incidents(MethodView):
    """The collection of incidents."""

    @require("write")
    @blp.doc(security=[{"bearerAuth": []}])
    @blp.arguments(IncidentIn())
    @blp.response(201, IncidentWritten)
    @blp.alt_response(409, description="An incident with this id exists.")
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Report an incident, optionally with its first statements."""
        statements = [as_domain(s) for s in body.get("statements", [])]
        written = services().app.report_incident(incident_fields(body), body.get("id"), statements)
        answer = {
            "id": written.incident_id,
            "version": written.version,
            "position": written.position,
            "recorded_at": written.recorded_at,
            "statements": [{**s, "recorded_at": written.recorded_at} for s in written.statements],
        }
        return answer, 201, {"Location": f"/api/v1/incidents/{written.incident_id}"}


@blp.route("/<uuid:incident_id>")
class IncidentResource(MethodView):
    """One incident."""

    @require("read")
    @blp.arguments(AsOfArgs(), location="query", unknown=RAISE)
    @blp.response(200, IncidentOut)
    @blp.alt_response(404, description="No such incident, or not yet known at as_of.")
    def get(self, args: dict[str, Any], incident_id: UUID) -> dict[str, Any]:
        """The incident with its statements, now or as known at ``as_of``."""
        view = services().app.get_incident(incident_id, args.get("as_of"), args["clock"])
        return {**view, "as_of": args.get("as_of"), "clock": args["clock"]}

    @require("write")
    @blp.doc(security=[{"bearerAuth": []}])
    @blp.arguments(IncidentAmendment())
    @blp.response(200, IncidentWritten)
    @blp.alt_response(404, description="No such incident.")
    def patch(self, body: dict[str, Any], incident_id: UUID) -> dict[str, Any]:
        """Amend an incident's fields, with a reason; earlier values stay in its history."""
        written = services().app.amend_incident(incident_id, incident_fields(body), body["reason"])
        return {
            "id": written.incident_id,
            "version": written.version,
            "position": written.position,
            "recorded_at": written.recorded_at,
            "changes": written.changes,
        }

"""HTTP shape of an incident: report, read (as known at a time), amend."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from flask.views import MethodView
from flask_smorest import abort
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from api.auth import WrittenBy, require, written_by
from api.citation import Cited, citation_headers, cited
from api.consistency import (
    AtPositionArgs,
    MinPosition,
    await_position,
    with_position,
)
from api.exports import file_responses, streamed, wanted
from api.fields import Clock, Moment, StoredTimestamp, Timestamp
from api.filters import IncidentFilters, timeline_filter
from api.json_bodies import Blueprint
from api.paging import decode_cursor, raw_page
from api.preconditions import IF_MATCH_DOC, etag, if_match
from api.quality import flags_field
from api.services import services
from api.statements import StatementIn, StatementOut, as_domain
from timeline.application import Written
from timeline.domain.values import (
    ACTOR_TYPES,
    KINDS,
    LOCATION_PRECISIONS,
    MAX_EXTERNAL_ID,
    MAX_NAME,
    MAX_PROPERTY_NAME,
    MAX_REASON,
    MAX_TAG,
    MAX_TITLE,
    NAMESPACE_PATTERN,
    PRECISIONS,
    RETIREMENT_REASONS,
    SIDE_PATTERN,
    TAG_ERROR,
    TAG_PATTERN,
    timestamp,
)
from timeline.exports import LINES, WRITERS

HISTORY = "history"
LISTING = "timeline"  # the projection the incident listing reads
INCIDENTS = "incidents"  # the kind of cursor it hands out

blp = Blueprint(
    "incidents",
    __name__,
    url_prefix="/api/v1/incidents",
    description="Incidents: things that happened or were announced, with their statements.",
)


ACTOR_DOC = {
    "description": "A side code (RU) — short for {name: RU, side: RU} — or an object: a free "
    "name, optional side code, type (ACLED's actor types) and the dataset's own code.",
    "oneOf": [
        {"type": "string", "pattern": SIDE_PATTERN},
        {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME},
                "side": {"type": "string", "pattern": SIDE_PATTERN, "nullable": True},
                "type": {"type": "string", "enum": list(ACTOR_TYPES), "nullable": True},
                "code": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_TAG,
                    "nullable": True,
                },
            },
        },
    ],
}


def ActorsIn(**kwargs: Any) -> fields.List[Any]:
    """Actors as given: codes or objects (the domain checks each, naming its field)."""
    return fields.List(fields.Raw(metadata=ACTOR_DOC), **kwargs)


class ActorOut(Schema):
    """Who took part."""

    name = fields.String()
    side = fields.String(allow_none=True, metadata={"example": "RU"})
    type = fields.String(allow_none=True, metadata={"enum": list(ACTOR_TYPES)})
    code = fields.String(allow_none=True)


def ExternalIds() -> fields.Dict:
    """A dataset's own ids for the incident: namespace to id."""
    return fields.Dict(
        keys=fields.String(
            validate=validate.Regexp(
                NAMESPACE_PATTERN,
                error="A namespace is lowercase: a letter, then letters, digits, '.', '_' or "
                "'-' (32 at most).",
            )
        ),
        values=fields.String(validate=validate.Length(1, MAX_EXTERNAL_ID)),
        metadata={
            "description": "The incident's ids in datasets, one per namespace (at most 16); "
            "each names one incident at a time (409 when another holds it).",
            "example": {"ucdp-ged": "256002", "acled": "UKR57975"},
        },
    )


def TagIn() -> fields.String:
    """A tag as written: a short word (the domain checks it again, naming its place)."""
    return fields.String(validate=validate.Regexp(TAG_PATTERN, error=TAG_ERROR))


def Properties() -> fields.Dict:
    """A dataset's other columns: names to plain values (checked by the domain)."""
    return fields.Dict(
        keys=fields.String(),
        values=fields.Raw(
            allow_none=True,
            metadata={"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]},
        ),
        metadata={
            "description": "A dataset's other columns: a flat object of names (1 to "
            f"{MAX_PROPERTY_NAME} characters) to strings, numbers, booleans or null, at most "
            "16 KB as JSON (422 otherwise).",
            "example": {"event_clarity": 1, "where_description": "near the market"},
        },
    )


class OccurredSchema(Schema):
    """When it happened, and how precisely that is known."""

    start = Moment(required=True)
    end = Moment(allow_none=True, end=True)
    precision = fields.String(
        validate=validate.OneOf(PRECISIONS),
        metadata={"description": "Default: implied by a date/month/year start, else minute."},
    )


class LocationSchema(Schema):
    """Where it happened."""

    name = fields.String(
        validate=validate.Length(1, MAX_NAME),
        metadata={"description": "Required, except in a source recorded as published "
                  "(/batch as_published): a place it left unnamed is named from its admin "
                  "levels, country or coordinates, and flagged unnamed_place."},
    )  # fmt: skip
    admin1 = fields.String(allow_none=True, validate=validate.Length(1, MAX_NAME))
    admin2 = fields.String(allow_none=True, validate=validate.Length(1, MAX_NAME))
    admin3 = fields.String(allow_none=True, validate=validate.Length(1, MAX_NAME))
    country = fields.String(
        allow_none=True,
        validate=validate.Length(1, MAX_NAME),
        metadata={
            "example": "UA",
            "description": "ISO 3166-1 alpha-2 code. Written as a code (UA, UKR) or an English "
            "name (Ukraine); stored and answered as the code.",
        },
    )
    country_name = fields.String(
        allow_none=True,
        validate=validate.Length(1, MAX_NAME),
        metadata={
            "example": "Ukraine",
            "description": "The country's name for display: as written (a dataset's own "
            "spelling), else the code's English name. Alone (no country), a country that no "
            "ISO code stands for.",
        },
    )
    lat = fields.Float(allow_none=True, validate=validate.Range(-90, 90))
    lon = fields.Float(allow_none=True, validate=validate.Range(-180, 180))
    precision = fields.String(
        allow_none=True,
        validate=validate.OneOf(LOCATION_PRECISIONS),
        metadata={
            "description": "How precisely the place is known (places stored before "
            "this list may read back with free text)."
        },
    )


class IncidentFields(Schema):
    """The fields that describe an incident."""

    title = fields.String(required=True, validate=validate.Length(1, MAX_TITLE))
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    occurred = fields.Nested(OccurredSchema, required=True)
    location = fields.Nested(LocationSchema, allow_none=True)
    actors = ActorsIn(
        load_default=list,
        metadata={"example": ["RU", {"name": "Armed Forces of Ukraine", "side": "UA"}]},
    )
    tags = fields.List(TagIn(), load_default=list)
    properties = Properties()
    external_ids = ExternalIds()


def StatedAt() -> fields.AwareDateTime:
    """When the version's source published it (a dataset's release date)."""
    return Timestamp(
        metadata={
            "description": "When its source published this version (e.g. a dataset's release "
            "date); default: now. Not later than now (5 minutes of clock skew allowed). "
            "clock=stated reads replay on it."
        }
    )


class IncidentIn(IncidentFields):
    """A new incident; ``id`` makes a retried request safe, ``statements`` records them at once."""

    id = fields.UUID()
    stated_at = StatedAt()
    statements = fields.List(fields.Nested(StatementIn), load_default=list)


class IncidentAmendment(Schema):
    """Fields to change, and why."""

    title = fields.String(validate=validate.Length(1, MAX_TITLE))
    kind = fields.String(validate=validate.OneOf(KINDS))
    occurred = fields.Nested(OccurredSchema)
    location = fields.Nested(LocationSchema, allow_none=True)
    actors = ActorsIn()
    tags = fields.List(TagIn())
    properties = Properties()
    external_ids = ExternalIds()
    reason = fields.String(required=True, validate=validate.Length(1, MAX_REASON))
    stated_at = StatedAt()


class RetirementIn(Schema):
    """Why the incident leaves the timeline."""

    reason = fields.String(
        required=True,
        validate=validate.OneOf(RETIREMENT_REASONS),
        metadata={"description": "removed_by_source, duplicate (name duplicate_of), or "
                  "recorded_in_error."},
    )  # fmt: skip
    duplicate_of = fields.UUID(
        metadata={
            "description": "The incident it repeats: one that exists, not the incident "
            "itself, required with reason duplicate and refused with any other (422)."
        }
    )
    note = fields.String(validate=validate.Length(1, MAX_REASON))


class RetireIn(RetirementIn):
    """A retirement, and when its source published it."""

    stated_at = StatedAt()


class RestoreIn(Schema):
    """Why a retired incident comes back, and when its source published that."""

    reason = fields.String(required=True, validate=validate.Length(1, MAX_REASON))
    stated_at = StatedAt()


class RetirementOut(Schema):
    """Why and when the incident was retired."""

    reason = fields.String(metadata={"enum": list(RETIREMENT_REASONS)})
    duplicate_of = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    retired_at = StoredTimestamp()
    stated_at = StoredTimestamp(allow_none=True)


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
    actors = fields.List(fields.Nested(ActorOut))
    tags = fields.List(fields.String())
    properties = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True))
    external_ids = fields.Dict(keys=fields.String(), values=fields.String())
    retired = fields.Nested(
        RetirementOut, allow_none=True, metadata={"description": "null: on the timeline."}
    )
    stated_at = StoredTimestamp(
        metadata={"description": "When the source published this version of the incident."}
    )
    flags = flags_field("this version of the incident (its statements carry their own)")


class IncidentOut(IncidentSummary, Cited):
    """An incident with its statements, as known at the time asked for."""

    version = fields.Integer()
    reported_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    statements = fields.List(fields.Nested(StatementOut))
    as_of = fields.AwareDateTime(allow_none=True)
    clock = fields.String()
    position = fields.Integer(
        metadata={
            "description": "The log position this answer reflects: read from the event store "
            "itself, it holds every event up to here (also in X-Projection-Position)."
        }
    )


class IncidentWritten(Schema):
    """Where a write landed in the log."""

    id = fields.String()
    version = fields.Integer()
    position = fields.Integer(
        allow_none=True,
        metadata={"description": "The log position written; null when nothing changed."},
    )
    recorded_at = fields.AwareDateTime()
    statements = fields.List(fields.Nested(StatementOut))
    changes = fields.Dict(metadata={"description": "The fields that changed (empty: none)."})
    outcome = fields.String(
        metadata={"description": "reported, amended, retired, restored or unchanged."}
    )


class AsOfArgs(AtPositionArgs):
    """Replay the incident to what was known at a time, or at a log position."""

    as_of = Timestamp(metadata={"description": "Show the incident as known at this time."})
    clock = Clock()


def incident_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Schema data → the domain's incident fields (only those given)."""
    return {k: v for k, v in data.items() if k not in ("id", "statements", "reason", "stated_at")}


class ExternalIdArg(fields.String):
    """``namespace:id``, e.g. ``ucdp-ged:256002``, parsed into its two parts."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        namespace, sep, found = text.partition(":")
        valid = sep and 0 < len(found) <= MAX_EXTERNAL_ID and re.match(NAMESPACE_PATTERN, namespace)
        if not valid:
            raise ValidationError("Give namespace:id, e.g. ucdp-ged:256002.")
        return namespace, found


class IncidentListArgs(IncidentFilters):
    """The incident filters, one incident, or the incident a dataset's id names; a page of
    JSON, or the whole result as a file."""

    format = fields.String(
        validate=validate.OneOf(("json", "ndjson", "csv", "acled-csv", "geojson")),
        metadata={
            "description": "json: a page. ndjson, csv, geojson: every matching incident, with "
            "its live statements (NDJSON) or its figures' ranges (CSV, GeoJSON), streamed as "
            "a file; acled-csv: in ACLED's 31-column layout. limit and cursor do not apply. "
            "Without it, the Accept header chooses (application/x-ndjson, text/csv, "
            "application/geo+json)."
        },
    )

    incident = fields.UUID()
    external_id = ExternalIdArg(
        metadata={
            "description": "The incident a dataset's id names: namespace:id (a retired one "
            "only with retired=true; GET /incidents/{id} reads any).",
            # (what the argument accepts, said where a generated client can check it)
            "pattern": NAMESPACE_PATTERN.removesuffix("$") + f":.{{1,{MAX_EXTERNAL_ID}}}$",
        }
    )


class IncidentsPage(Cited):
    """A page of incidents."""

    items = fields.List(fields.Nested(IncidentSummary))
    next_cursor = fields.String(allow_none=True)
    position = fields.Integer(metadata={"description": "The log position this page reflects."})


@blp.route("")
class Incidents(MethodView):
    """The collection of incidents."""

    @require("read")
    @blp.arguments(IncidentListArgs(), location="query", unknown=RAISE)
    @blp.response(200, IncidentsPage)
    @blp.doc(**file_responses(WRITERS, "incident"))
    @blp.alt_response(400, description="The cursor was altered.")
    @blp.alt_response(503, description="The projection did not reach min_position in time.")
    def get(self, args: dict[str, Any]) -> Any:
        """Incidents by when they occurred, with the timeline's filters, now or as of a time."""
        await_position(LISTING, args.get("min_position"))
        await_position("timeline", args.get("at_position"), "at_position")
        svc = services()
        where = timeline_filter(args)
        data_format = wanted(args.get("format"))
        if args.get("external_id"):
            namespace, value = args["external_id"]
            named = svc.app.incident_by_external_id(namespace, value)
            if named is None or (where.incident not in (None, named)):
                named = "00000000-0000-0000-0000-000000000000"  # matches nothing
            where = replace(where, incident=named)
        if data_format == "ndjson":  # the stored texts, spliced: nothing parsed
            return streamed(svc.reads.export_incident_lines(where), "ndjson", "incidents", LINES)
        if data_format is not None:
            return streamed(svc.reads.export_incidents(where), data_format, "incidents")
        after = decode_cursor(INCIDENTS, args.get("cursor"), 2)
        page = svc.reads.incidents(where, after, args["limit"])
        # Stored in the IncidentSummary shape, ready to serve (the fuzz test checks the schema).
        return raw_page(INCIDENTS, page, [row["item"] for row in page.items])

    @require("write")
    @blp.doc(security=[{"bearerAuth": []}])
    @blp.arguments(IncidentIn())
    @blp.response(201, IncidentWritten)
    @blp.alt_response(409, description="An incident with this id exists.")
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Report an incident, optionally with its first statements."""
        statements = [as_domain(s) for s in body.get("statements", [])]
        written = services().app.report_incident(
            incident_fields(body), body.get("id"), statements, written_by(), body.get("stated_at")
        )
        answer = {
            "id": written.incident_id,
            "version": written.version,
            "position": written.position,
            "recorded_at": written.recorded_at,
            "statements": written.statements,
        }
        return answer, 201, {"Location": f"/api/v1/incidents/{written.incident_id}"}


@blp.route("/<uuid:incident_id>")
class IncidentResource(MethodView):
    """One incident."""

    @require("read")
    @blp.arguments(AsOfArgs(), location="query", unknown=RAISE)
    @blp.response(200, IncidentOut)
    @blp.alt_response(404, description="No such incident, or not yet known at as_of.")
    def get(self, args: dict[str, Any], incident_id: UUID) -> Any:
        """The incident with its statements, now or as known at ``as_of``.

        Its `ETag` is its version: send it back as `If-Match` on a write to make the write
        conditional on nobody having changed the incident since.
        """
        svc = services()
        head = svc.app.head()  # read first: the incident loaded next holds every event up to it
        version, at = None, args.get("at_position")
        if at is not None:  # the incident's last version logged by then (the history's index)
            await_position(HISTORY, at, "at_position")
            version, head = svc.reads.version_at_position(str(incident_id), at), at
            if version is None:
                abort(404, message=f"Incident {incident_id} was not yet recorded at position {at}.")
        view = svc.app.get_incident(incident_id, args.get("as_of"), args["clock"], version)
        body = cited({**view, "as_of": args.get("as_of"), "clock": args["clock"],
                      "position": head}, head)  # fmt: skip
        return body, 200, {"ETag": etag(view["version"]), **citation_headers(body["citation"])}

    @require("write")
    @blp.doc(security=[{"bearerAuth": []}])
    @blp.arguments(IncidentAmendment())
    @blp.response(200, IncidentWritten)
    @blp.alt_response(404, description="No such incident.")
    @blp.alt_response(412, description="If-Match names a version that is no longer current.")
    @blp.doc(**IF_MATCH_DOC)
    def patch(self, body: dict[str, Any], incident_id: UUID) -> Any:
        """Amend an incident's fields, with a reason; earlier values stay in its history.

        Fields given their current values change nothing: 200 with the unchanged version,
        `changes: {}` and `position: null` (nothing was written).
        """
        written = services().app.amend_incident(
            incident_id, incident_fields(body), body["reason"], written_by(),
            body.get("stated_at"), if_match(),
        )  # fmt: skip
        return _written(written)


def _written(written: Written) -> tuple[dict[str, Any], int, dict[str, str]]:
    body = {
        "id": written.incident_id,
        "version": written.version,
        "position": written.position,
        "recorded_at": written.recorded_at,
        "changes": written.changes,
        "outcome": written.outcome,
    }
    return body, 200, {"ETag": etag(written.version)}


@blp.route("/<uuid:incident_id>/retirement")
class Retirement(MethodView):
    """Taking an incident off the timeline."""

    @require("write")
    @blp.doc(security=[{"bearerAuth": []}])
    @blp.arguments(RetireIn())
    @blp.response(200, IncidentWritten)
    @blp.alt_response(404, description="No such incident.")
    @blp.alt_response(412, description="If-Match names a version that is no longer current.")
    @blp.doc(**IF_MATCH_DOC)
    def post(self, body: dict[str, Any], incident_id: UUID) -> Any:
        """Retire the incident: it leaves the timeline, claims, ceasefires and sources, stays
        readable by id (marked retired) and in its history; `as_of` before it still shows it.

        Retiring a retired incident writes nothing (`outcome: unchanged`, `position: null`).
        """
        written = services().app.retire_incident(
            incident_id, body["reason"], body.get("duplicate_of"), body.get("note"),
            written_by(), body.get("stated_at"), if_match(),
        )  # fmt: skip
        return _written(written)


@blp.route("/<uuid:incident_id>/restoration")
class Restoration(MethodView):
    """Bringing a retired incident back."""

    @require("write")
    @blp.doc(security=[{"bearerAuth": []}])
    @blp.arguments(RestoreIn())
    @blp.response(200, IncidentWritten)
    @blp.alt_response(404, description="No such incident.")
    @blp.alt_response(412, description="If-Match names a version that is no longer current.")
    @blp.doc(**IF_MATCH_DOC)
    def post(self, body: dict[str, Any], incident_id: UUID) -> Any:
        """Restore a retired incident; restoring one that is not retired writes nothing."""
        written = services().app.restore_incident(
            incident_id, body["reason"], written_by(), body.get("stated_at"), if_match()
        )
        return _written(written)


class DiffArgs(Schema):
    """The two moments to compare, and which clock they are on."""

    start = Timestamp(data_key="from", required=True)
    end = Timestamp(data_key="to", metadata={"description": "Defaults to now."})
    clock = Clock()

    @validates_schema
    def check_order(self, data: dict[str, Any], **_: Any) -> None:
        """``from`` must not be after ``to``."""
        if data.get("end") and data["start"] > data["end"]:
            raise ValidationError("'from' must not be after 'to'.", "from")


class FigureRange(Schema):
    """The spread of one figure across the statements that gave it."""

    low = fields.Raw(metadata={"type": "number"})
    high = fields.Raw(metadata={"type": "number"})
    statements = fields.Integer()


class FigureChange(Schema):
    """A figure whose range changed between the two moments."""

    metric = fields.String()
    subject = fields.String(allow_none=True)
    start = fields.Nested(FigureRange, data_key="from", attribute="from", allow_none=True)
    end = fields.Nested(FigureRange, data_key="to", attribute="to", allow_none=True)


class IncidentDiff(Schema):
    """What changed between two moments."""

    id = fields.String()
    from_version = fields.Integer(metadata={"description": "0: not yet known at 'from'."})
    to_version = fields.Integer()
    statements_added = fields.List(fields.Nested(StatementOut))
    statements_withdrawn = fields.List(fields.Nested(StatementOut))
    fields_amended = fields.Dict(metadata={"description": "field → {from, to}"})
    figures_changed = fields.List(fields.Nested(FigureChange))


class HistoryArgs(AtPositionArgs):
    """The versions recorded (or published) by a time; read-your-writes."""

    as_of = Timestamp(metadata={"description": "Only the versions known by this time."})
    clock = Clock()
    min_position = MinPosition()


class Version(Schema):
    """One version of an incident: the event that made it."""

    version = fields.Integer()
    position = fields.Integer()
    recorded_at = StoredTimestamp()
    stated_at = StoredTimestamp(
        allow_none=True,
        metadata={"description": "When its source published the version (a statement: when "
                  "it was said); null for an editorial withdrawal."},
    )  # fmt: skip
    type = fields.String()
    summary = fields.String()
    by = fields.Nested(
        WrittenBy,
        allow_none=True,
        metadata={"description": "The API key that wrote it (null for older events)."},
    )


class History(Cited):
    """Every version of an incident, oldest first."""

    id = fields.String()
    items = fields.List(fields.Nested(Version))
    position = fields.Integer(metadata={"description": "The log position this reflects."})


@blp.route("/<uuid:incident_id>/diff")
class Diff(MethodView):
    """Changes between two moments."""

    @require("read")
    @blp.arguments(DiffArgs(), location="query", unknown=RAISE)
    @blp.response(200, IncidentDiff)
    @blp.alt_response(404, description="No such incident, or not yet known at 'to'.")
    def get(self, args: dict[str, Any], incident_id: UUID) -> dict[str, Any]:
        """Statements added and withdrawn, fields amended and figure ranges changed."""
        end = args.get("end") or datetime.now(UTC)
        return services().app.diff_incident(incident_id, args["start"], end, args["clock"])


@blp.route("/<uuid:incident_id>/history")
class IncidentHistory(MethodView):
    """Versions of one incident."""

    @require("read")
    @blp.arguments(HistoryArgs(), location="query", unknown=RAISE)
    @blp.response(200, History)
    @blp.alt_response(404, description="No such incident.")
    def get(self, args: dict[str, Any], incident_id: UUID) -> Any:
        """Every version: log position, when recorded, event type and a one-line summary."""
        svc = services()
        await_position(HISTORY, args.get("min_position"))
        await_position(HISTORY, args.get("at_position"), "at_position")
        if not svc.app.exists(incident_id):
            abort(404, message=f"No incident {incident_id}.")
        as_of = timestamp(args["as_of"], "as_of") if args.get("as_of") else None
        page = svc.reads.history(str(incident_id), as_of, args["clock"], args.get("at_position"))
        body = History().dump(
            {"id": str(incident_id), "items": page.items, "position": page.position}
        )
        return with_position(body, page.position)

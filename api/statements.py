"""HTTP shape of a statement: record one, withdraw one."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.auth import require, written_by
from api.fields import WEB_URL, StoredTimestamp, Timestamp
from api.json_bodies import Blueprint
from api.preconditions import IF_MATCH_DOC, etag, if_match
from api.quality import flags_field
from api.services import services
from timeline.application import Written
from timeline.domain.values import (
    MAX_NAME,
    MAX_REASON,
    MAX_REFERENCE,
    MAX_SOURCE_NAME,
    MAX_TEXT,
    MAX_URL,
    METRIC_ERROR,
    METRIC_PATTERN,
    QUALIFIERS,
    SIDE_ERROR,
    SIDE_PATTERN,
    SOURCE_TYPES,
    STANCES,
)

blp = Blueprint(
    "statements",
    __name__,
    url_prefix="/api/v1/incidents",
    description="What a source said about an incident, and editorial withdrawals.",
)


class SourceSchema(Schema):
    """Who said it."""

    name = fields.String(required=True, validate=validate.Length(1, MAX_SOURCE_NAME))
    side = fields.String(
        required=True,
        validate=validate.Regexp(SIDE_PATTERN, error=SIDE_ERROR),
        metadata={"example": "UA"},
    )
    type = fields.String(required=True, validate=validate.OneOf(SOURCE_TYPES))


class FigureSchema(Schema):
    """A number a source gave (``low`` ≤ ``value`` ≤ ``high`` where given: 422 otherwise)."""

    metric = fields.String(
        required=True,
        validate=validate.Regexp(METRIC_PATTERN, error=METRIC_ERROR),
        metadata={"example": "killed"},
    )
    value = fields.Float(required=True, allow_nan=False)
    low = fields.Float(allow_none=True, allow_nan=False)
    high = fields.Float(allow_none=True, allow_nan=False)
    qualifier = fields.String(load_default="exact", validate=validate.OneOf(QUALIFIERS))
    subject = fields.String(
        allow_none=True,
        validate=validate.Length(1, MAX_NAME),
        metadata={"example": "UA", "description": "Whom it counts: a side or any name."},
    )


class CitationSchema(Schema):
    """Where it was published: a URL, or a free-text reference for sources that are not URLs
    (one of the two: 422 for both or neither)."""

    url = fields.Url(
        schemes={"http", "https"}, validate=validate.Length(max=MAX_URL), metadata=WEB_URL
    )
    reference = fields.String(
        validate=validate.Length(1, MAX_REFERENCE),
        metadata={"description": "Instead of a url: e.g. 'Kyiv Post, print edition, p. 3'."},
    )
    outlet = fields.String(allow_none=True)
    published_at = Timestamp(allow_none=True)

    @validates_schema
    def url_or_reference(self, data: dict[str, Any], **_: Any) -> None:
        """Exactly one of url and reference."""
        if ("url" in data) == ("reference" in data):
            raise ValidationError("Give a url or a reference (one of them).", "url")


class StatementIn(Schema):
    """A statement to record; ``id`` lets a client retry without recording it twice."""

    id = fields.UUID()
    source = fields.Nested(SourceSchema, required=True)
    stance = fields.String(required=True, validate=validate.OneOf(STANCES))
    responds_to = fields.UUID(
        allow_none=True,
        metadata={"description": "The statement this one answers: one of this incident's (422 "
                  "otherwise)."},
    )  # fmt: skip
    text = fields.String(required=True, validate=validate.Length(1, MAX_TEXT))
    stated_at = Timestamp(required=True)
    figures = fields.List(fields.Nested(FigureSchema), load_default=list)
    citations = fields.List(fields.Nested(CitationSchema), load_default=list)


class FigureOut(Schema):
    """A stored figure (whole numbers stay whole)."""

    metric = fields.String()
    value = fields.Raw(metadata={"type": "number"})
    low = fields.Raw(allow_none=True, metadata={"type": "number"})
    high = fields.Raw(allow_none=True, metadata={"type": "number"})
    qualifier = fields.String()
    subject = fields.String(allow_none=True)


class CitationOut(Schema):
    """A stored citation: a url, or a free-text reference."""

    url = fields.String(allow_none=True)
    reference = fields.String(allow_none=True)
    outlet = fields.String(allow_none=True)
    published_at = StoredTimestamp(allow_none=True)


class WithdrawalOut(Schema):
    """Why and when a statement was editorially withdrawn."""

    reason = fields.String()
    withdrawn_at = fields.AwareDateTime()


class StatementOut(Schema):
    """A recorded statement."""

    id = fields.String()
    source = fields.Nested(SourceSchema)
    stance = fields.String()
    responds_to = fields.String(allow_none=True)
    text = fields.String()
    stated_at = StoredTimestamp()
    figures = fields.List(fields.Nested(FigureOut))
    citations = fields.List(fields.Nested(CitationOut))
    recorded_at = fields.AwareDateTime()
    withdrawn = fields.Nested(WithdrawalOut, allow_none=True)
    flags = flags_field("this statement")


class StatementWritten(Schema):
    """The answer to a recorded statement: where it landed in the log."""

    id = fields.String()
    incident_id = fields.String()
    version = fields.Integer()
    position = fields.Integer()
    recorded_at = fields.AwareDateTime()
    statement = fields.Nested(StatementOut)


class WithdrawalIn(Schema):
    """Why a statement is being withdrawn (it was mis-recorded)."""

    reason = fields.String(required=True, validate=validate.Length(1, MAX_REASON))


class WithdrawalWritten(Schema):
    """The answer to a withdrawal."""

    id = fields.String()
    incident_id = fields.String()
    version = fields.Integer()
    position = fields.Integer()
    recorded_at = fields.AwareDateTime()


def as_domain(statement: dict[str, Any]) -> dict[str, Any]:
    """Loaded schema data → the plain fields the domain expects (UUIDs as text)."""
    result = dict(statement)
    for key in ("id", "responds_to"):
        if result.get(key) is not None:
            result[key] = str(result[key])
    result["figures"] = [_number_figure(f) for f in result.get("figures", [])]
    return result


def _number_figure(figure: dict[str, Any]) -> dict[str, Any]:
    """Keep whole numbers whole: 600 stays 600, not 600.0."""
    return {
        key: int(value) if isinstance(value, float) and value.is_integer() else value
        for key, value in figure.items()
    }


@blp.route("/<uuid:incident_id>/statements")
class Statements(MethodView):
    """Statements of one incident."""

    @require("write")
    @blp.doc(security=[{"bearerAuth": []}])
    @blp.arguments(StatementIn())
    @blp.response(201, StatementWritten)
    @blp.alt_response(404, description="No such incident.")
    @blp.alt_response(412, description="If-Match names a version that is no longer current.")
    @blp.doc(**IF_MATCH_DOC)
    def post(self, statement: dict[str, Any], incident_id: UUID) -> Any:
        """Record a statement (claim, denial, confirmation…) in an incident."""
        written = services().app.record_statement(
            incident_id, as_domain(statement), by=written_by(), expected=if_match()
        )
        assert written.statement is not None
        answer = {
            "id": written.statement["id"],
            "incident_id": written.incident_id,
            "version": written.version,
            "position": written.position,
            "recorded_at": written.recorded_at,
            "statement": written.statement,
        }
        return answer, 201, _located(written)


@blp.route("/<uuid:incident_id>/statements/<uuid:statement_id>/withdrawal")
class Withdrawal(MethodView):
    """The editorial withdrawal of one statement."""

    @require("write")
    @blp.doc(security=[{"bearerAuth": []}])
    @blp.arguments(WithdrawalIn())
    @blp.response(200, WithdrawalWritten)
    @blp.alt_response(404, description="No such incident or statement.")
    @blp.alt_response(409, description="Already withdrawn.")
    @blp.alt_response(412, description="If-Match names a version that is no longer current.")
    @blp.doc(**IF_MATCH_DOC)
    def post(self, body: dict[str, Any], incident_id: UUID, statement_id: UUID) -> Any:
        """Withdraw a mis-recorded statement; it stays in the incident's history.

        200, like retirement and amendment: the statement changes state, nothing new is made.
        """
        written = services().app.withdraw_statement(
            incident_id, str(statement_id), body["reason"], by=written_by(), expected=if_match()
        )
        answer = {
            "id": str(statement_id),
            "incident_id": written.incident_id,
            "version": written.version,
            "position": written.position,
            "recorded_at": written.recorded_at,
        }
        return answer, 200, _located(written)


def _located(written: Written) -> dict[str, str]:
    """A statement and its withdrawal are read as part of their incident: Location is it, and
    ETag its new version."""
    return {"Location": f"/api/v1/incidents/{written.incident_id}", "ETag": etag(written.version)}

"""Read-your-writes for projection-backed reads: ``min_position`` and the position header."""

from __future__ import annotations

from typing import Any

from flask import make_response
from flask.typing import ResponseReturnValue
from flask_smorest import abort
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.citation import cited, with_citation_headers
from api.services import services
from timeline.citations import AT_POSITION_ALONE

MAX_POSITION = 2**63 - 1  # log positions are 64-bit integers in both databases


def MinPosition() -> fields.Integer:
    """The ``min_position`` query parameter of projection-backed reads."""
    return fields.Integer(
        validate=validate.Range(min=0, max=MAX_POSITION),
        metadata={"description": "Wait briefly until the projection has reached this position."},
    )


def await_position(projection: str, wanted: int | None, parameter: str = "min_position") -> None:
    """Wait briefly for the projection to reach ``wanted``; 503 if it does not in time.

    A position beyond the log's head names no write at all: that is the client's mistake (422).
    """
    if wanted is None:
        return
    svc = services()
    head = svc.app.head()
    if wanted > head:
        abort(
            422,
            message=f"{parameter} {wanted} is beyond the log's head ({head}).",
            errors={"query": {parameter: [f"Must be at most {head}, the log's head."]}},
        )
    reached = svc.runner.wait_for(projection, wanted, svc.settings.min_position_wait)
    if reached < wanted:
        abort(
            503,
            message=f"The {projection} projection is at position {reached}, behind the "
            f"requested {parameter} {wanted}; retry shortly.",
            headers={"Retry-After": "1"},
        )


def AtPosition() -> fields.Integer:
    """The ``at_position`` query parameter of reads that replay the log by position."""
    return fields.Integer(
        validate=validate.Range(min=0, max=MAX_POSITION),
        metadata={"description": "Answer exactly as the log stood at this position (a "
                  "citation's position): every event up to it, none after. Not with as_of or "
                  "clock=stated."},
    )  # fmt: skip


class AtPositionArgs(Schema):
    """The ``at_position`` argument of a read (with its rule: it stands alone)."""

    at_position = AtPosition()

    @validates_schema
    def check_position(self, data: dict[str, Any], **_: Any) -> None:
        """``at_position`` stands alone (see check_at_position)."""
        check_at_position(data)


def check_at_position(data: dict[str, Any]) -> None:
    """``at_position`` names a point of the recorded log: refused beside a time or the stated
    clock (a schema-level rule, raised as the field's error)."""
    if data.get("at_position") is not None and (
        data.get("as_of") is not None or data.get("clock") == "stated"
    ):
        raise ValidationError(AT_POSITION_ALONE, "at_position")
    if data.get("at_position") is not None and data.get("dedupe"):
        raise ValidationError(
            "dedupe=linked groups by the links held now: not with at_position.", "dedupe"
        )


def with_position(body: dict[str, Any], position: int) -> ResponseReturnValue:
    """The response with its citation (the position it reflects and the ledger's hash there),
    also in headers."""
    body = cited(body, position)
    return with_citation_headers(make_response(body), body["citation"])

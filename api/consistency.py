"""Read-your-writes for projection-backed reads: ``min_position`` and the position header."""

from __future__ import annotations

from typing import Any

from flask import make_response
from flask.typing import ResponseReturnValue
from flask_smorest import abort
from marshmallow import fields, validate

from api.services import services

MAX_POSITION = 2**63 - 1  # log positions are 64-bit integers in both databases


def MinPosition() -> fields.Integer:
    """The ``min_position`` query parameter of projection-backed reads."""
    return fields.Integer(
        validate=validate.Range(min=0, max=MAX_POSITION),
        metadata={"description": "Wait briefly until the projection has reached this position."},
    )


def await_position(projection: str, wanted: int | None) -> None:
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
            message=f"min_position {wanted} is beyond the log's head ({head}).",
            errors={"query": {"min_position": [f"Must be at most {head}, the log's head."]}},
        )
    reached = svc.runner.wait_for(projection, wanted, svc.settings.min_position_wait)
    if reached < wanted:
        abort(
            503,
            message=f"The {projection} projection is at position {reached}, behind the "
            f"requested min_position {wanted}; retry shortly.",
            headers={"Retry-After": "1"},
        )


def with_position(body: dict[str, Any], position: int) -> ResponseReturnValue:
    """The response, saying in a header too which log position it reflects."""
    response = make_response(body)
    response.headers["X-Projection-Position"] = str(position)
    return response

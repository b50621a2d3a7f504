"""Citable answers: every read names the log position it reflects and the ledger's hash there.

An analyst who publishes a figure keeps the answer's ``citation``; later, ``at_position`` asks
the same question of the same position (the answer is the same), ``GET /ledger/{position}``
gives the hash there, and ``timeline verify`` proves the log up to it is untouched — so the
published figure can be shown to be what the service answered, and any tampering since is
named by position.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from marshmallow import Schema, fields

from api.services import services
from timeline.ledger import ALGORITHM

HASH_HEADER = "X-Ledger-Hash"


class AnswerCitation(Schema):
    """What an answer reflects, to cite it by and check it against later."""

    position = fields.Integer(metadata={"description": "The log position the answer reflects."})
    ledger_hash = fields.String(
        allow_none=True,
        metadata={"description": "The hash chain at that position (GET /api/v1/ledger/"
                  "{position}); null: nothing logged yet, or not chained yet (ask again)."},
    )  # fmt: skip
    algorithm = fields.String()


class Cited(Schema):
    """A read's answer, with its citation."""

    citation = fields.Nested(AnswerCitation)


def citation_of(position: int) -> dict[str, Any]:
    """The citation of an answer reflecting ``position``."""
    found = services().reads.ledger_link(position)[0] if position > 0 else None
    return {"position": position, "ledger_hash": found, "algorithm": ALGORITHM}


def cited(body: dict[str, Any], position: int) -> dict[str, Any]:
    """The body with its citation."""
    return {**body, "citation": citation_of(position)}


def citation_headers(citation: dict[str, Any]) -> dict[str, str]:
    """The position and hash headers of a cited answer (a streamed export has no body to
    hold them)."""
    headers = {"X-Projection-Position": str(citation["position"])}
    if citation["ledger_hash"]:
        headers[HASH_HEADER] = citation["ledger_hash"]
    return headers


def with_citation_headers(response: Response, citation: dict[str, Any]) -> Response:
    """The response, with its citation's headers."""
    response.headers.update(citation_headers(citation))
    return response

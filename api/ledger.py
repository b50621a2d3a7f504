"""HTTP shape of the tamper-evident ledger: the head of the hash chain."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import abort
from marshmallow import Schema, fields

from api.auth import require
from api.consistency import MAX_POSITION
from api.json_bodies import Blueprint
from api.services import services
from timeline.ledger import ALGORITHM

blp = Blueprint(
    "ledger",
    __name__,
    url_prefix="/api/v1/ledger",
    description="Tamper evidence: a SHA-256 hash chain over the event log.",
)


class LedgerHead(Schema):
    """The newest link of the chain, and how far the log has grown beyond it."""

    position = fields.Integer(metadata={"description": "Last chained log position (0: empty)."})
    hash = fields.String(allow_none=True, metadata={"description": "Hex SHA-256 at that position."})
    log_head = fields.Integer(metadata={"description": "Newest position in the log."})
    algorithm = fields.String()


@blp.route("")
class Ledger(MethodView):
    """The ledger."""

    @require("read")
    @blp.response(200, LedgerHead)
    def get(self) -> dict[str, Any]:
        """The chain's head: publish or archive it; `timeline verify` checks the log against it.

        hash[n] = sha256(hash[n-1] || "position\\nstream id\\nversion\\ntopic\\n" || stored
        state bytes of event n), from 32 zero bytes (algorithm sha256-chain-v2).
        """
        svc = services()
        newest = svc.reads.ledger_head()
        return {
            "position": newest[0] if newest else 0,
            "hash": newest[1] if newest else None,
            "log_head": svc.app.head(),
            "algorithm": ALGORITHM,
        }


class LedgerLink(Schema):
    """The chain's hash at one log position: what an answer citing that position can be checked
    against."""

    position = fields.Integer()
    hash = fields.String(metadata={"description": "Hex SHA-256 of the chain up to here."})
    algorithm = fields.String()


@blp.route(f"/<int(max={MAX_POSITION}):position>")
class LedgerAt(MethodView):
    """One link of the chain."""

    @require("read")
    @blp.response(200, LedgerLink)
    @blp.alt_response(404, description="No event at that position, or not chained yet.")
    def get(self, position: int) -> dict[str, Any]:
        """The chain's hash at a log position (the same one `timeline verify` recomputes)."""
        found, chained = services().reads.ledger_link(position)
        if found is None:
            abort(404, message=f"No link at position {position} (the ledger has chained up "
                  f"to {chained}).")  # fmt: skip
        return {"position": position, "hash": found, "algorithm": ALGORITHM}

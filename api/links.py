"""Links between incidents of different datasets: the matcher's proposals, and analysts'
decisions (link, reject, unlink), each an event replayable on both clocks."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import RAISE, Schema, fields, validate

from api.auth import require, written_by
from api.citation import Cited
from api.consistency import (
    AtPositionArgs,
    MinPosition,
    await_position,
    with_position,
)
from api.fields import Clock, StoredTimestamp, Timestamp
from api.json_bodies import Blueprint
from api.paging import PageArgs, decode_cursor, page_body
from api.services import services
from timeline.domain.link import DECISIONS, pair_of
from timeline.domain.values import MAX_REASON, NAMESPACE_PATTERN, timestamp
from timeline.links import decide

PROJECTION = "links"
PROPOSALS = "link-proposals"

blp = Blueprint(
    "links", __name__, url_prefix="/api/v1/links",
    description="The same event across datasets: proposals, and analysts' decisions on them.",
)  # fmt: skip


class Who(Schema):
    """The API key that made a decision."""

    key_id = fields.String()
    name = fields.String()


class LinkOut(Schema):
    """A pair linked as one event, and the decision that linked it."""

    first = fields.String(metadata={"description": "The pair's smaller incident id."})
    second = fields.String()
    reason = fields.String()
    by = fields.Nested(Who, allow_none=True)
    score = fields.Float(
        allow_none=True, metadata={"description": "The proposal's score, if it confirmed one."}
    )
    reasons = fields.List(fields.String(), allow_none=True)
    sys_from_pos = fields.Integer(metadata={"description": "The decision's log position."})
    sys_from = StoredTimestamp(metadata={"description": "When it was recorded."})
    stated_at = StoredTimestamp(metadata={"description": "When it was decided (stated clock)."})


class LinksArgs(PageArgs, AtPositionArgs):
    """Which links, held when."""

    incident = fields.UUID(metadata={"description": "Only the links of this incident."})
    as_of = Timestamp(metadata={"description": "The links held at this time."})
    clock = Clock()
    min_position = MinPosition()


class LinksPage(Cited):
    """Links held, by pair."""

    items = fields.List(fields.Nested(LinkOut))
    next_cursor = fields.String(allow_none=True)
    position = fields.Integer(metadata={"description": "The log position this page reflects."})


class DecisionIn(Schema):
    """A decision on a pair of incidents."""

    incidents = fields.List(
        fields.UUID(),
        required=True,
        validate=validate.Length(equal=2),
        metadata={"description": "The two incidents (any order; not the same one twice)."},
    )
    decision = fields.String(
        required=True,
        validate=validate.OneOf(DECISIONS),
        metadata={"description": "link (confirm: the same event), reject (not the same: "
                  "never proposed again), unlink (undo a link or a rejection)."},
    )  # fmt: skip
    reason = fields.String(required=True, validate=validate.Length(1, MAX_REASON))
    stated_at = Timestamp(
        metadata={"description": "When it was decided, if earlier than now (stated clock)."}
    )


class DecisionOut(Schema):
    """Where the pair stands after the decision."""

    first = fields.String()
    second = fields.String()
    status = fields.String(
        allow_none=True,
        metadata={"enum": ["linked", "rejected", None], "description": "null: undecided."},
    )
    position = fields.Integer(
        allow_none=True, metadata={"description": "The decision's log position (null: none)."}
    )


class Proposed(Schema):
    """What a reviewer reads of one incident of a proposal."""

    id = fields.String()
    title = fields.String()
    kind = fields.String()
    start = StoredTimestamp(metadata={"description": "When it occurred (its start)."})
    place = fields.String(allow_none=True)
    datasets = fields.List(
        fields.String(), metadata={"description": "Its datasets' ids, e.g. acled:UKR7001."}
    )


class ProposalOut(Schema):
    """Two incidents that may be the same event, and why."""

    first = fields.String()
    second = fields.String()
    incidents = fields.List(fields.Nested(Proposed), metadata={"description": "first, second"})
    score = fields.Float(metadata={"description": "0 to 1: how alike."})
    reasons = fields.List(fields.String())
    position = fields.Integer(metadata={"description": "The log position that proposed it."})
    proposed_at = StoredTimestamp()


class ProposalsArgs(PageArgs):
    """Which proposals."""

    namespace = fields.String(
        validate=validate.Regexp(NAMESPACE_PATTERN),
        metadata={"description": "Involving this dataset (own: analysts' incidents)."},
    )
    min_score = fields.Float(load_default=0.0, validate=validate.Range(0, 1))
    incident = fields.UUID(metadata={"description": "Only the proposals of this incident."})
    min_position = MinPosition()


class ProposalsPage(Cited):
    """Proposals no decision stands on, best first."""

    items = fields.List(fields.Nested(ProposalOut))
    next_cursor = fields.String(allow_none=True)
    position = fields.Integer()


@blp.route("")
class Links(MethodView):
    """Pairs of incidents held to be one event."""

    @require("read")
    @blp.arguments(LinksArgs(), location="query", unknown=RAISE)
    @blp.response(200, LinksPage)
    def get(self, args: dict[str, Any]) -> Any:
        """The links held now, or at `as_of` (on either clock), by pair."""
        await_position(PROJECTION, args.get("min_position"))
        await_position(PROJECTION, args.get("at_position"), "at_position")
        at = timestamp(args["as_of"], "as_of") if args.get("as_of") else None
        incident = str(args["incident"]) if args.get("incident") else None
        after = decode_cursor(PROJECTION, args.get("cursor"), 2)
        page = services().reads.links(incident, args["clock"], at, after, args["limit"],
                                      args.get("at_position"))  # fmt: skip
        return with_position(LinksPage().dump(page_body(PROJECTION, page)), page.position)

    @require("write")
    @blp.doc(security=[{"bearerAuth": []}])
    @blp.arguments(DecisionIn())
    @blp.response(201, DecisionOut)
    @blp.alt_response(200, schema=DecisionOut, description="The pair stood there already.")
    @blp.alt_response(404, description="No such incident.")
    @blp.alt_response(409, description="Unlinking a pair that is neither linked nor rejected.")
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """Decide a pair: `link` it (confirm a proposal, or by hand), `reject` it, or `unlink`
        it. Each decision is an event, with who made it and why; a link that confirms a
        proposal keeps the proposal's score and reasons. The two incidents must differ."""
        svc = services()
        a, b = (str(i) for i in body["incidents"])
        first, second = pair_of(a, b)
        proposal = svc.reads.proposal(first, second) if body["decision"] == "link" else None
        done = decide(svc.app, a, b, body["decision"], body["reason"], written_by(),
                      body.get("stated_at"), proposal)  # fmt: skip
        return {
            "first": done.first,
            "second": done.second,
            "status": done.status,
            "position": done.position,
        }, 201 if done.recorded else 200


@blp.route("/proposals")
class Proposals(MethodView):
    """The queue of proposals to confirm or reject."""

    @require("read")
    @blp.arguments(ProposalsArgs(), location="query", unknown=RAISE)
    @blp.response(200, ProposalsPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Pairs the matcher proposes and no decision stands on, best first."""
        await_position(PROJECTION, args.get("min_position"))
        after = decode_cursor(PROPOSALS, args.get("cursor"), 3)
        incident = str(args["incident"]) if args.get("incident") else None
        page = services().reads.proposals(
            args.get("namespace"), args["min_score"], after, args["limit"], incident
        )
        return with_position(ProposalsPage().dump(page_body(PROPOSALS, page)), page.position)

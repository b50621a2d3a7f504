"""Bulk load: many incidents and statements in one request, written in one transaction."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.auth import require, written_by
from api.incidents import IncidentAmendment, RetirementIn, StatedAt, incident_fields
from api.json_bodies import Blueprint
from api.quality import FlagIn
from api.services import services
from api.statements import StatementIn, as_domain
from timeline.bulk import MAX_BATCH_ITEMS, BulkWriter, OnRefused, Options
from timeline.domain import Conflict

blp = Blueprint(
    "batch", __name__, url_prefix="/api/v1/batch", description="Bulk loading of incidents."
)


class BatchItem(IncidentAmendment):
    """An incident to upsert — named by ``id`` or by one of its ``external_ids``, or new —
    with its statements."""

    id = fields.UUID()
    reason = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"description": "Why an existing incident changed (default: a batch update)."},
    )
    statements = fields.List(
        fields.Nested(StatementIn),
        load_default=list,
        metadata={"description": "Recorded unless already recorded with the same id and "
                  "content (the same id with other content: 409)."},
    )  # fmt: skip
    retire = fields.Nested(RetirementIn, metadata={"description": "Retire the incident."})
    flags = fields.List(
        fields.Nested(FlagIn),
        metadata={"description": "Flags the writer found itself (e.g. unmapped_category); "
                  "only with as_published."},
    )  # fmt: skip


class BatchIn(Schema):
    """Items to write; if any is rejected, none is written."""

    items = fields.List(
        fields.Nested(BatchItem), required=True, validate=validate.Length(1, MAX_BATCH_ITEMS)
    )
    stated_at = StatedAt()
    as_published = fields.Boolean(
        load_default=False,
        metadata={"description": "The items record a source as published (a dataset's "
                  "release): where it breaks its own rules (a best estimate outside its own "
                  "range, an end before its start, a place without a name…) they are stored as "
                  "given and flagged, not refused. Default: refused, like every other write."},
    )  # fmt: skip
    on_refused = fields.String(
        load_default="reject",
        validate=validate.OneOf(["reject", "skip", "hold"]),
        metadata={"description": "What a refused item does. reject (default): the batch is "
                  "refused at the first one (422 or 409 naming items.N.field), nothing written. "
                  "hold: nothing written either, and the 422 lists every refused item under "
                  "`refused`. skip: the other items are written, the refused ones listed."},
    )  # fmt: skip
    dry_run = fields.Boolean(
        load_default=False,
        metadata={"description": "Check every item and write nothing: the answer (200) lists "
                  "the items that would be refused."},
    )  # fmt: skip
    listed = fields.Boolean(
        load_default=False,
        metadata={"description": "The items are rows of a release dated stated_at: each gets a "
                  "version stated then, even when nothing changed (outcome listed), so that a "
                  "release loaded later, between two others, cannot change what the later one "
                  "said. Record the release itself with POST /api/v1/releases."},
    )  # fmt: skip


class BatchItemOut(Schema):
    """What one item wrote."""

    index = fields.Integer(metadata={"description": "The item's place in the request, from 0."})
    id = fields.String()
    version = fields.Integer()
    outcome = fields.String(
        metadata={
            "description": "reported, amended, retired, restored, listed (a release's "
            "row that changed nothing, dated by the release) or unchanged."
        }
    )
    statements = fields.List(
        fields.String(), metadata={"description": "ids of the statements recorded now"}
    )
    flags = fields.List(
        fields.String(),
        metadata={"description": "The quality flag codes the incident and the statements "
                  "recorded now carry."},
    )  # fmt: skip


class RefusedItemOut(Schema):
    """An item the rules refused (on_refused skip or hold, or a dry run)."""

    index = fields.Integer(metadata={"description": "The item's place in the request, from 0."})
    field = fields.String(metadata={"description": "The field, within the item (e.g. "
                                    "occurred.start, statements.0.text)."})  # fmt: skip
    status = fields.Integer(metadata={"description": "422 (an invalid value) or 409 (a "
                                      "conflict)."})  # fmt: skip
    message = fields.String()


class HeldOut(Schema):
    """A batch refused as a whole."""

    code = fields.Integer()
    status = fields.String()
    message = fields.String()
    errors = fields.Dict(metadata={"description": "The first refused field (on_refused reject)."})
    refused = fields.List(fields.Nested(RefusedItemOut), metadata={"description": "Every "
                          "refused item (on_refused hold)."})  # fmt: skip


class BatchOut(Schema):
    """Where the batch landed in the log."""

    position = fields.Integer(
        metadata={"description": "The log position reached (the head when nothing was written)."}
    )
    items = fields.List(fields.Nested(BatchItemOut), metadata={"description": "One per item "
                        "written (refused ones left out)."})  # fmt: skip
    refused = fields.List(fields.Nested(RefusedItemOut), metadata={"description": "The "
                          "refused items (on_refused skip, or a dry run)."})  # fmt: skip


@blp.route("")
class Batch(MethodView):
    """Bulk writes."""

    @require("write")
    @blp.doc(security=[{"bearerAuth": []}])
    @blp.arguments(BatchIn())
    @blp.response(201, BatchOut)
    @blp.alt_response(
        200, schema=BatchOut, description="Nothing was written: all unchanged (or a dry run)."
    )
    @blp.alt_response(
        422,
        schema=HeldOut,
        description="Refused: an invalid item (the first, "
        "named in errors), or with on_refused hold every refused item, listed.",
    )
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int] | Response:
        """Upsert incidents and their statements in bulk, all or nothing.

        Each item names an incident by `id` or by one of its `external_ids` (or is new). New:
        reported. Existing, with fields: only what differs from the incident as published at
        the item's `stated_at` is written, as one amendment — re-sending a batch writes
        nothing; an incident its source had removed comes back. `retire` retires it.
        Statements already recorded with the same id and content are skipped.
        """
        items = []
        for item in body["items"]:
            statements = [as_domain(s) for s in item.get("statements", [])]
            fields_given = {k: v for k, v in incident_fields(item).items() if v is not None}
            control = {k: item[k] for k in ("id", "reason", "retire", "stated_at") if k in item}
            items.append({**fields_given, **control, "statements": statements})
        app = services().app
        options = Options(written_by(), body.get("stated_at"), body["as_published"],
                          body["listed"])  # fmt: skip
        mode: OnRefused = "raise" if body["on_refused"] == "reject" else body["on_refused"]
        if body["dry_run"] and mode == "raise":
            mode = "hold"  # a dry run lists every refused item
        done = BulkWriter(app).write(items, options, mode, save=not body["dry_run"])
        refused = [
            {"index": r.index, "field": r.error.field or "", "message": r.error.message,
             "status": 409 if isinstance(r.error, Conflict) else 422}
            for r in done.refused
        ]  # fmt: skip
        if refused and mode == "hold" and not body["dry_run"]:
            first = refused[0]
            held = jsonify({
                "code": 422, "status": "Unprocessable Entity", "refused": refused,
                "message": f"{len(refused)} item(s) refused, nothing written; the first: "
                           f"items.{first['index']}.{first['field']}: {first['message']}",
            })  # fmt: skip
            held.status_code = 422
            return held
        written = [w for _, w in done.written]
        status = 200 if all(w.outcome == "unchanged" and not w.statements for w in written) else 201
        answer = {
            "position": max((w.position or 0 for w in written), default=app.head()),
            "items": [
                {
                    "index": index,
                    "id": w.incident_id,
                    "version": w.version,
                    "outcome": w.outcome,
                    "statements": [s["id"] for s in w.statements],
                    "flags": list(w.flags),
                }
                for index, w in done.written
            ],
            "refused": refused,
        }
        return answer, status

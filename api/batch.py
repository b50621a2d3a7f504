"""Bulk load: many incidents and statements in one request, written in one transaction."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.auth import require, written_by
from api.incidents import IncidentAmendment, RetirementIn, StatedAt, incident_fields
from api.json_bodies import Blueprint
from api.quality import FlagIn
from api.services import services
from api.statements import StatementIn, as_domain
from timeline.bulk import MAX_BATCH_ITEMS

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
    listed = fields.Boolean(
        load_default=False,
        metadata={"description": "The items are rows of a release dated stated_at: each gets a "
                  "version stated then, even when nothing changed (outcome listed), so that a "
                  "release loaded later, between two others, cannot change what the later one "
                  "said. Record the release itself with POST /api/v1/releases."},
    )  # fmt: skip


class BatchItemOut(Schema):
    """What one item wrote."""

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


class BatchOut(Schema):
    """Where the batch landed in the log."""

    position = fields.Integer(
        metadata={"description": "The log position reached (the head when nothing was written)."}
    )
    items = fields.List(fields.Nested(BatchItemOut))


@blp.route("")
class Batch(MethodView):
    """Bulk writes."""

    @require("write")
    @blp.doc(security=[{"bearerAuth": []}])
    @blp.arguments(BatchIn())
    @blp.response(201, BatchOut)
    @blp.alt_response(200, schema=BatchOut, description="Nothing was written: all unchanged.")
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
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
        written = app.apply_batch(
            items, by=written_by(), stated_at=body.get("stated_at"),
            as_published=body["as_published"], listed=body["listed"],
        )  # fmt: skip
        status = 200 if all(w.outcome == "unchanged" and not w.statements for w in written) else 201
        answer = {
            "position": max(w.position or 0 for w in written),
            "items": [
                {
                    "id": w.incident_id,
                    "version": w.version,
                    "outcome": w.outcome,
                    "statements": [s["id"] for s in w.statements],
                }
                for w in written
            ],
        }
        return answer, status

"""Bulk load: many incidents and statements in one request, written in one transaction."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.auth import require, written_by
from api.incidents import IncidentAmendment, incident_fields
from api.services import services
from api.statements import StatementIn, as_domain
from timeline.application import MAX_BATCH_ITEMS

blp = Blueprint(
    "batch", __name__, url_prefix="/api/v1/batch", description="Bulk loading of incidents."
)


class BatchItem(IncidentAmendment):
    """A new incident (fields, optional ``id``) or an existing one (``id``), with statements."""

    id = fields.UUID()
    reason = fields.String(load_default=None, dump_default=None, allow_none=True)
    statements = fields.List(fields.Nested(StatementIn), load_default=list)


class BatchIn(Schema):
    """Items to write; if any is rejected, none is written."""

    items = fields.List(
        fields.Nested(BatchItem), required=True, validate=validate.Length(1, MAX_BATCH_ITEMS)
    )


class BatchItemOut(Schema):
    """What one item wrote."""

    id = fields.String()
    version = fields.Integer()
    statements = fields.List(fields.String(), metadata={"description": "ids of the statements"})


class BatchOut(Schema):
    """Where the batch landed in the log."""

    position = fields.Integer()
    items = fields.List(fields.Nested(BatchItemOut))


@blp.route("")
class Batch(MethodView):
    """Bulk writes."""

    @require("write")
    @blp.doc(security=[{"bearerAuth": []}])
    @blp.arguments(BatchIn())
    @blp.response(201, BatchOut)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Report incidents and record statements in bulk, all or nothing."""
        items = []
        for item in body["items"]:
            statements = [as_domain(s) for s in item.get("statements", [])]
            fields_given = {k: v for k, v in incident_fields(item).items() if v is not None}
            items.append({**fields_given, "id": item.get("id"), "statements": statements})
        written = services().app.apply_batch(items, by=written_by())
        return {
            "position": max(w.position or 0 for w in written),
            "items": [
                {
                    "id": w.incident_id,
                    "version": w.version,
                    "statements": [s["id"] for s in w.statements],
                }
                for w in written
            ],
        }

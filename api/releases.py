"""Releases of datasets: record one (which ids it lists, when it was published) and list them.

A release decides, on the stated clock, which of its namespace's incidents are on the timeline
from its time until the next release (see :mod:`timeline.releases`).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.auth import require, written_by
from api.fields import Timestamp
from api.json_bodies import Blueprint
from api.services import services
from timeline.domain.values import MAX_EXTERNAL_ID, NAMESPACE_PATTERN
from timeline.releases import catalogue, record_release

blp = Blueprint(
    "releases", __name__, url_prefix="/api/v1/releases",
    description="Datasets' releases: which ids each lists, and when it was published.",
)  # fmt: skip
MAX_LISTED = 500_000


class ReleaseIn(Schema):
    """A release: its namespace, when it was published, and every id it lists."""

    namespace = fields.String(required=True, validate=validate.Regexp(NAMESPACE_PATTERN))
    stated_at = Timestamp(
        required=True,
        metadata={"description": "When its source published the release (with an offset)."},
    )
    external_ids = fields.List(
        fields.String(validate=validate.Length(1, MAX_EXTERNAL_ID)),
        required=True,
        validate=validate.Length(max=MAX_LISTED),
        metadata={"description": "Every id the release lists (its rows, sent before with "
                  "POST /batch, listed: true)."},
    )  # fmt: skip


class ReleaseOut(Schema):
    """A release as the catalog knows it."""

    namespace = fields.String()
    stated_at = fields.String()
    rows = fields.Integer(metadata={"description": "How many ids it lists."})
    previous = fields.String(
        allow_none=True, metadata={"description": "The namespace's release before it."}
    )
    added = fields.Integer(metadata={"description": "Ids it lists that the previous did not."})
    changed = fields.Integer(
        metadata={"description": "Ids both list whose incident it gives other fields."}
    )
    removed = fields.Integer(metadata={"description": "Ids the previous listed and it does not."})


class ReleaseRecorded(Schema):
    """What recording a release did."""

    namespace = fields.String()
    stated_at = fields.String()
    rows = fields.Integer()
    new = fields.Boolean(metadata={"description": "false: recorded before, nothing new."})
    retired = fields.Integer(
        metadata={"description": "Retirements written (at this or another release's time)."}
    )
    restored = fields.Integer()


class ReleasesQuery(Schema):
    """Which releases."""

    namespace = fields.String(validate=validate.Regexp(NAMESPACE_PATTERN))


class ReleasesOut(Schema):
    """Every release recorded, by namespace and time."""

    items = fields.List(fields.Nested(ReleaseOut))


@blp.route("")
class Releases(MethodView):
    """The releases of datasets."""

    @require("read")
    @blp.arguments(ReleasesQuery(), location="query")
    @blp.response(200, ReleasesOut)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Every release recorded, with how each compares with its namespace's one before."""
        return {"items": catalogue(services().app, args.get("namespace"))}

    @require("write")
    @blp.doc(security=[{"bearerAuth": []}])
    @blp.arguments(ReleaseIn())
    @blp.response(201, ReleaseRecorded)
    @blp.alt_response(200, schema=ReleaseRecorded, description="Recorded before: nothing new.")
    @blp.alt_response(409, description="A release of that namespace and time lists other ids.")
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """Record a release, then put its namespace's incidents on the timeline (stated
        clock) exactly where its releases list them: a row the release does not list is
        retired as of its time (removed by its source), one listed again restored."""
        svc = services()
        namespace = body["namespace"]
        others = svc.reads.external_ids(namespace)  # (live now: the releases give the rest)
        done = record_release(svc.app, namespace, body["stated_at"], body["external_ids"],
                              others, written_by())  # fmt: skip
        return asdict(done), 201 if done.new else 200

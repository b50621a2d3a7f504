"""What changed between two moments: the question this service exists to answer."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema
from webargs.fields import DelimitedList

from api.auth import require
from api.citation import Cited
from api.consistency import MinPosition, await_position, with_position
from api.fields import Clock, Timestamp
from api.incidents import IncidentSummary
from api.json_bodies import Blueprint
from api.paging import PageArgs, decode_cursor, page_body
from api.services import services
from timeline.domain.values import KINDS, MAX_NAME, NAMESPACE_PATTERN, timestamp
from timeline.read_models import ChangesFilter

PROJECTION = "timeline"
KIND = "changes"

blp = Blueprint(
    "changes", __name__, url_prefix="/api/v1/changes",
    description="What was added, changed and retired between two moments, on either clock.",
)  # fmt: skip


class ChangesArgs(PageArgs):
    """Two moments on one clock, and which incidents."""

    start = Timestamp(data_key="from", required=True, metadata={"description": "T1."})
    end = Timestamp(data_key="to", required=True, metadata={"description": "T2 (not before T1)."})
    clock = Clock()
    namespace = fields.String(
        validate=validate.Regexp(NAMESPACE_PATTERN),
        metadata={"description": "Only incidents of this dataset (with from and to two of its "
                  "releases' times and clock=stated: what the later release changed)."},
    )  # fmt: skip
    kind = DelimitedList(fields.String(validate=validate.OneOf(KINDS)))
    country = fields.String(validate=validate.Length(1, MAX_NAME), metadata={"example": "UA"})
    min_position = MinPosition()

    @validates_schema
    def check_order(self, data: dict[str, Any], **_: Any) -> None:
        """``from`` must not be after ``to``."""
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise ValidationError("'from' must not be after 'to'.", "from")


class FieldChange(Schema):
    """One field's value at T1 and at T2."""

    # (any JSON: a field's own shape)
    from_ = fields.Raw(data_key="from", attribute="from", allow_none=True)
    to = fields.Raw(allow_none=True)


class Change(Schema):
    """One incident that changed, and how."""

    id = fields.String()
    change = fields.String(
        metadata={"enum": ["added", "restored", "changed", "retired"],
                  "description": "added: not known at T1; restored: retired at T1; retired: "
                  "live at T1, retired by T2; changed: its fields or statements changed."},
    )  # fmt: skip
    incident = fields.Nested(IncidentSummary, metadata={"description": "As it stood at T2."})
    fields_changed = fields.Dict(
        keys=fields.String(), values=fields.Nested(FieldChange),
        metadata={"description": "field → {from, to} (T1's value, T2's)."},
    )  # fmt: skip
    statements_said = fields.Integer(
        metadata={"description": "Statements recorded (or, on the stated clock, said) in "
                  "(T1, T2]."}
    )  # fmt: skip


class ChangesPage(Cited):
    """The incidents that changed, by id."""

    items = fields.List(fields.Nested(Change))
    next_cursor = fields.String(allow_none=True)
    position = fields.Integer(metadata={"description": "The log position this page reflects."})


@blp.route("")
class Changes(MethodView):
    """Changes between two moments."""

    @require("read")
    @blp.arguments(ChangesArgs(), location="query", unknown=RAISE)
    @blp.response(200, ChangesPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Every incident added, restored, changed (field by field; statements said) or
        retired between `from` and `to` — on the recorded clock (what the service learned),
        or the stated clock (what the sources published: between two releases of a dataset,
        what the later one changed)."""
        await_position(PROJECTION, args.get("min_position"))
        where = ChangesFilter(
            start=timestamp(args["start"], "from"),
            end=timestamp(args["end"], "to"),
            clock=args["clock"],
            namespace=args.get("namespace"),
            kind=args.get("kind", ()),
            country=args.get("country"),
        )
        after = decode_cursor(KIND, args.get("cursor"), 1)
        page = services().reads.changes(where, after, args["limit"])
        return with_position(ChangesPage().dump(page_body(KIND, page)), page.position)

"""The raw event log by position, for consumers that follow it."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from api.auth import require
from api.consistency import MAX_POSITION
from api.services import services

blp = Blueprint(
    "events", __name__, url_prefix="/api/v1/events", description="The raw, ordered event log."
)


class EventsArgs(Schema):
    """Where to continue from, and how much to take."""

    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_POSITION))
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))


class EventOut(Schema):
    """One stored event with its log position."""

    position = fields.Integer()
    type = fields.String()
    incident_id = fields.String()
    version = fields.Integer()
    recorded_at = fields.AwareDateTime()
    data = fields.Dict()


class EventsPage(Schema):
    """A slice of the log; pass ``next_after`` as ``after`` to continue."""

    items = fields.List(fields.Nested(EventOut))
    next_after = fields.Integer()


@blp.route("")
class Events(MethodView):
    """The event log."""

    @require("read")
    @blp.arguments(EventsArgs(), location="query", unknown=RAISE)
    @blp.response(200, EventsPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Events after a position, in log order."""
        entries = services().app.read_events(args["after"], args["limit"])
        return {
            "items": [entry.to_dict() for entry in entries],
            "next_after": entries[-1].position if entries else args["after"],
        }

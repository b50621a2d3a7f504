"""The map at any scale: the matching incidents counted per cell of the zoom level's grid, so a
map of 100,000 incidents draws a few hundred circles, not 100,000 markers."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import RAISE, Schema, fields, validate

from api.auth import require
from api.citation import Cited
from api.consistency import await_position, with_position
from api.filters import IncidentQuery, timeline_filter
from api.json_bodies import Blueprint
from api.services import services

PROJECTION = "timeline"
MAX_ZOOM = 18

blp = Blueprint(
    "map", __name__, url_prefix="/api/v1/map",
    description="Incidents counted per map cell, for maps at any scale.",
)  # fmt: skip


class CellsArgs(IncidentQuery):
    """The incidents' filters (bbox: the map's view), and the map's zoom level."""

    zoom = fields.Integer(
        required=True,
        validate=validate.Range(0, MAX_ZOOM),
        metadata={"description": "The map's zoom level (0: the world): cells of 45 / 2^zoom "
                  "degrees (about 60 px on a web map)."},
    )  # fmt: skip


class Cell(Schema):
    """One cell: how many incidents, where (the mean of their points)."""

    count = fields.Integer()
    lat = fields.Float()
    lon = fields.Float()
    incident_id = fields.String(
        allow_none=True, metadata={"description": "The incident, where the cell holds one."}
    )


class Cells(Cited):
    """The cells holding incidents, and the log position this reflects."""

    items = fields.List(fields.Nested(Cell))
    degrees = fields.Float(metadata={"description": "The cells' size."})
    position = fields.Integer()


@blp.route("/cells")
class MapCells(MethodView):
    """Incidents per map cell."""

    @require("read")
    @blp.arguments(CellsArgs(), location="query", unknown=RAISE)
    @blp.response(200, Cells)
    def get(self, args: dict[str, Any]) -> Any:
        """The incidents the filters match (at a time, a position, in a bbox…) counted per cell
        of the zoom level's grid: draw each as a circle sized by its count; zoom in to split
        it, and list a small cell's incidents with /incidents?bbox=…"""
        await_position(PROJECTION, args.get("min_position"))
        await_position(PROJECTION, args.get("at_position"), "at_position")
        degrees = 45.0 / 2 ** args["zoom"]
        page = services().reads.cells(timeline_filter(args), degrees)
        body = {"items": page.items, "degrees": degrees, "position": page.position}
        return with_position(Cells().dump(body), page.position)

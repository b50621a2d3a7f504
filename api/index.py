"""The API's front door: ``GET /api/v1`` names where everything is.

The start-up banner and the README point people at ``/api/v1``; it used to answer 404. Now it
answers links, so a person (or a client) starting there finds the docs, the OpenAPI document,
the health checks, the dashboard and the main listings without reading the README first.
"""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView
from marshmallow import Schema, fields

from api.json_bodies import Blueprint

blp = Blueprint("index", __name__, url_prefix="/api/v1", description="Where everything is.")

# Link name → endpoint (blueprint.view): resolved with url_for, so a moved route moves here too.
LINKS = {
    "docs": "api-docs.openapi_swagger_ui",
    "openapi": "api-docs.openapi_json",
    "health": "health.Health",
    "ready": "health.Ready",
    "metrics": "metrics.Metrics",
    "timeline": "timeline.Timeline",
    "incidents": "incidents.Incidents",
    "claims": "claims.Claims",
    "sources": "sources.Sources",
    "releases": "releases.Releases",
    "ceasefires": "ceasefires.Ceasefires",
    "aggregates": "aggregates.AggregatesResource",
    "events": "events.Events",
    "ledger": "ledger.Ledger",
}


class Index(Schema):
    """The service's name and version, and a link to each of its main parts."""

    name = fields.String()
    version = fields.String()
    dashboard = fields.String(metadata={"description": "The dashboard (a web page)."})
    links = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "Name → path of the docs, OpenAPI, health and listings."},
    )


@blp.route("", strict_slashes=False)
class ApiIndex(MethodView):
    """The index."""

    @blp.response(200, Index)
    def get(self) -> dict[str, Any]:
        """Links to the docs, the OpenAPI document, health, the dashboard and the listings."""
        links = {name: url_for(endpoint) for name, endpoint in LINKS.items()}
        return {
            "name": "Conflict timeline",
            "version": "v1",
            "dashboard": url_for("dashboard.index"),
            "links": links,
        }

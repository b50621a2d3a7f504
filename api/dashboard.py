"""The dashboard at ``/``: plain HTML, CSS and ES modules from ``api/static/dashboard`` (no
build step), reading only the public API, so it is also a reference client.

Third-party files (Leaflet, topojson-client, Natural Earth's country shapes from the
world-atlas package, d3 and Observable Plot) are kept in ``vendor/`` at exact npm versions,
with their licences (``make vendor`` refreshes them). A Content-Security-Policy lets the page
load nothing from anywhere but this service.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, request, send_from_directory

ASSETS = Path(__file__).parent / "static" / "dashboard"
POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

blp = Blueprint("dashboard", __name__, static_folder=str(ASSETS), static_url_path="/dashboard")


@blp.route("/")
def index() -> Response:
    """The dashboard's page (its views are chosen by the address's #fragment)."""
    page = send_from_directory(ASSETS, "index.html", max_age=0)
    page.headers["Content-Security-Policy"] = POLICY
    return page


@blp.after_app_request
def policy_on_assets(response: Response) -> Response:
    """The same policy on the dashboard's own files (scripts run under it)."""
    if request.path.startswith("/dashboard/"):
        response.headers.setdefault("Content-Security-Policy", POLICY)
    return response

"""The interactive API docs' assets, served by the app itself: the docs work offline.

Swagger UI comes from the `swagger-ui-bundle` package (pinned in pyproject.toml), which ships
its files; flask-smorest's docs page loads them from here instead of a CDN.
"""

from __future__ import annotations

from flask import Blueprint, Flask
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/api/v1/docs/assets"


def install(app: Flask) -> None:
    """Serve Swagger UI's files under ASSETS and point the docs page at them."""
    app.config["OPENAPI_SWAGGER_UI_URL"] = ASSETS + "/"
    assets = Blueprint(
        "docs_assets", __name__, static_folder=str(swagger_ui_path), static_url_path=ASSETS
    )
    app.register_blueprint(assets)

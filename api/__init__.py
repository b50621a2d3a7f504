"""The Flask API: app factory, one blueprint per resource, OpenAPI by flask-smorest."""

from __future__ import annotations

from flask import Flask

from api import (
    aggregates,
    batch,
    ceasefires,
    cells,
    changes,
    claims,
    clusters,
    dashboard,
    docs,
    errors,
    events,
    health,
    idempotency,
    incidents,
    index,
    ledger,
    limits,
    links,
    metrics,
    refusals,
    releases,
    schema_rules,
    sources,
    statements,
    subscriptions,
    timeline,
    tracing,
)
from api.auth import BEARER, identify
from api.json_bodies import StrictJSONProvider
from api.path_ids import UUIDPathConverter
from timeline.bootstrap import Services, build
from timeline.config import Settings

BLUEPRINTS = (
    index,
    incidents,
    statements,
    batch,
    releases,
    timeline,
    changes,
    ceasefires,
    claims,
    sources,
    aggregates,
    links,
    clusters,
    cells,
    events,
    subscriptions,
    ledger,
    health,
    metrics,
)


def create_app(settings: Settings | None = None, services: Services | None = None) -> Flask:
    """Build the WSGI app; tests pass their own settings (or ready-built services)."""
    settings = settings or (services.settings if services else Settings.from_env())
    app = Flask(__name__)
    app.json = StrictJSONProvider(app)
    app.url_map.converters["uuid"] = UUIDPathConverter
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        API_TITLE="Conflict timeline",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        JSON_SORT_KEYS=False,
    )
    app.extensions["timeline"] = services or build(settings)
    docs.install(app)  # before the Api reads the config
    api = errors.TimelineApi(
        app,
        spec_kwargs={
            "info": {
                "description": "An event-sourced record of what was claimed about a war, "
                "by whom, and when. Writes need `Authorization: Bearer <key>`. Every POST "
                "takes an `Idempotency-Key` header: a retry with the same key and body gets "
                "the first answer again (for 24 h) and writes nothing. An incident's `ETag` is "
                "its version; writes to it take `If-Match` (412 when it no longer holds)."
            }
        },
    )
    api.spec.components.security_scheme("bearerAuth", BEARER["bearerAuth"])
    for module in BLUEPRINTS:
        api.register_blueprint(module.blp)
    refusals.document(api)
    schema_rules.tighten(api)
    app.register_blueprint(dashboard.blp)  # the dashboard at /, outside the API
    errors.register(app)
    tracing.install(app)
    metrics.install(app)
    app.before_request(identify)  # a forged key is refused before it is counted
    limits.install(app, settings)
    idempotency.install(app)  # after the limiter: a refused request claims no key
    return app

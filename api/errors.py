"""One error shape for every failure: ``{code, status, message, errors?}``, never an HTML page.

Domain errors map to 4xx with the offending field named under ``errors.json`` (nested the way
marshmallow nests its own messages), so clients handle schema and domain errors alike.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from flask_smorest import Api
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from timeline.domain import (
    Conflict,
    DomainError,
    IncidentNotFound,
    StaleVersion,
    StatementNotFound,
)
from timeline.event_log import UndecodableEvent
from timeline.outage import driver_errors, is_unavailable
from timeline.subscriptions import SubscriptionNotFound
from timeline.webhooks.delivery_log import DeliveryNotFound

log = logging.getLogger(__name__)

STATUS_OF: dict[type[DomainError], int] = {
    IncidentNotFound: 404,
    StatementNotFound: 404,
    SubscriptionNotFound: 404,
    DeliveryNotFound: 404,
    Conflict: 409,
    StaleVersion: 412,
}
NAMES = {
    400: "Bad Request",
    404: "Not Found",
    409: "Conflict",
    412: "Precondition Failed",
    422: "Unprocessable Entity",
}


class TimelineApi(Api):  # type: ignore[misc]
    """flask-smorest's Api with a human message on every HTTP error, even werkzeug's own."""

    def handle_http_exception(self, error: HTTPException) -> tuple[dict[str, Any], int, Any]:
        """Add werkzeug's description as the message when no message was given."""
        payload, code, headers = super().handle_http_exception(error)
        if "message" not in payload and "errors" in payload:
            payload["message"] = "Invalid input: " + describe(payload["errors"])
        elif "message" not in payload and error.description:
            payload["message"] = error.description
        if code == 429:
            payload["message"] = (
                f"Too many requests for this key ({error.description}); "
                "retry after the number of seconds in Retry-After."
            )
        if code == 500:
            log.error("internal error", exc_info=getattr(error, "original_exception", None))
            payload["message"] = "Internal server error."
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            # RFC 9110: a 405 says which methods the resource does take.
            headers = {**(headers or {}), "Allow": ", ".join(sorted(error.valid_methods))}
            payload["message"] = (
                f"{payload.get('message', 'Method not allowed.')} It takes "
                f"{', '.join(sorted(error.valid_methods))}."
            )
        return payload, code, headers


def describe(errors: Any, path: str = "") -> str:
    """The first error as ``field.path: message``, for the human-readable message."""
    if isinstance(errors, dict) and errors:
        key, value = next(iter(errors.items()))
        inner = key if key in ("json", "query", "path", "headers") and not path else f"{path}{key}"
        return describe(value, "" if inner == key and key in ("json", "query") else f"{inner}.")
    if isinstance(errors, list) and errors:
        prefix = path.rstrip(".")
        return f"{prefix}: {errors[0]}" if prefix else str(errors[0])
    return "see errors"


def nest(path: str | None, message: str) -> dict[str, Any]:
    """``a.0.b`` and a message → ``{"a": {"0": {"b": [message]}}}`` (marshmallow's shape)."""
    errors: Any = [message]
    for part in reversed((path or "_schema").split(".")):
        errors = {part: errors}
    return errors  # type: ignore[no-any-return]


def domain_error_response(error: DomainError) -> tuple[dict[str, Any], int]:
    """The JSON body and status for a domain error."""
    code = next((s for t, s in STATUS_OF.items() if isinstance(error, t)), 422)
    body: dict[str, Any] = {"code": code, "status": NAMES[code], "message": error.message}
    if code == 422:
        body["errors"] = {"json": nest(error.field, error.message)}
    if isinstance(error, StaleVersion):
        body["current_version"] = error.current_version
    return body, code


def unavailable_response(error: Exception) -> tuple[dict[str, Any], int, dict[str, str]]:
    """503 with Retry-After when the database cannot be reached; any other error stays a 500."""
    if not is_unavailable(error):
        log.error("internal error", exc_info=error)
        return {"code": 500, "status": "Internal Server Error", "message": "Internal server "
                "error."}, 500, {}  # fmt: skip
    log.warning("database unavailable: %s", error)
    body = {
        "code": 503,
        "status": "Service Unavailable",
        "message": "The database is unreachable right now; retry shortly.",
    }
    return body, 503, {"Retry-After": "5"}


def undecodable_response(error: UndecodableEvent) -> tuple[dict[str, Any], int]:
    """A 500 that names the stored event at fault (the operator's to repair)."""
    log.error("undecodable event at position %s: %s", error.position, error.reason)
    return {"code": 500, "status": "Internal Server Error", "message": str(error)}, 500


def register(app: Flask) -> None:
    """Install the domain error handler and the database-unavailable handler."""
    app.register_error_handler(DomainError, domain_error_response)
    app.register_error_handler(UndecodableEvent, undecodable_response)
    # The read models and the application raise DatabaseUnavailable; the event store's own
    # calls may still surface its (or a driver's) errors, which the infrastructure classifies.
    for kind in driver_errors():
        app.register_error_handler(kind, unavailable_response)

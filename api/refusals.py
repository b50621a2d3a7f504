"""The error responses of the OpenAPI document, completed from the parameters each operation
takes.

Some of the rules the server enforces cannot be said in a schema: they relate two parameters
(``from`` after ``to``), or depend on the store's state (``min_position`` or ``Last-Event-ID``
beyond the log's head, a ``cursor`` this API never issued, an ``If-Match`` version that is no
longer current). A generated client learns them here instead: each operation that takes such a
parameter documents the status it answers with, what it means, and the error body's schema.
The rules are attached by parameter, once, rather than by hand on each of the views that share
them (a view added later with a ``cursor`` is documented with it).
"""

from __future__ import annotations

from typing import Any

from flask_smorest import Api

ERROR_BODY = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
# A 412 also says which version is current, so the client can read it again.
STALE_BODY = {
    "application/json": {
        "schema": {
            "type": "object",
            "properties": {
                "code": {"type": "integer"},
                "status": {"type": "string"},
                "message": {"type": "string"},
                "current_version": {"type": "integer", "minimum": 1},
            },
        }
    }
}

# What each parameter adds to an operation's documented refusals: (status, reason).
RULES: dict[str, list[tuple[str, str]]] = {
    "cursor": [("400", "`cursor` is not a `next_cursor` this API issued (pass it unchanged).")],
    "min_position": [
        ("422", "`min_position` is beyond the log's head (`errors` says where the head is)."),
        ("503", "The read model did not reach `min_position` in time (retry)."),
    ],
    "at_position": [
        ("422", "`at_position` is beyond the log's head, or given with `as_of` or `clock=stated`."),
        ("503", "The read model did not reach `at_position` in time (retry)."),
    ],
    "to": [("422", "`from` is after `to`.")],
    "bbox": [("422", "`bbox` has a minimum above its maximum.")],
    "Last-Event-ID": [("422", "`Last-Event-ID` is beyond the log's head.")],
    "If-Match": [("412", "`If-Match` names a version that is no longer current.")],
}

INVALID = "Invalid input: `errors` names each refused field (`json`, `query`, `headers`)."


def document(api: Api) -> None:
    """Complete every operation's error responses (call once every blueprint is registered)."""
    for operations in api.spec._paths.values():  # apispec keeps the paths it was given here
        for method, operation in operations.items():
            if method != "parameters":
                _complete(operation)


def _complete(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    reasons: dict[str, list[str]] = {}
    for parameter in operation.get("parameters", []):
        for status, reason in RULES.get(parameter.get("name", ""), []):
            reasons.setdefault(status, []).append(reason)
    if "422" in responses or "422" in reasons:
        reasons.setdefault("422", []).insert(0, INVALID)
    for status, listed in reasons.items():
        response = responses.get(status)
        if response is None or "$ref" in response:
            response = responses[status] = {"description": ""}
        known = response.get("description") or ""
        added = [reason for reason in listed if reason not in known]
        response["description"] = " ".join(part for part in [known, *added] if part)
    for status, response in responses.items():
        if status[0] in "45" and "$ref" not in response:
            response.setdefault("content", STALE_BODY if status == "412" else ERROR_BODY)

"""Field types shared by the resource schemas."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

AWARE_ERRORS: dict[str, str | list[Any] | dict[Any, Any]] = {
    "invalid_awareness": "Timestamp must include a UTC offset.",
    "invalid": "Not a valid ISO-8601 timestamp.",
}


def Timestamp(**kwargs: Any) -> fields.AwareDateTime:
    """An ISO-8601 timestamp that must carry a UTC offset (naive times are ambiguous)."""
    return fields.AwareDateTime(format="iso", error_messages=AWARE_ERRORS, **kwargs)


CLOCKS = ("recorded", "stated")


def Clock(**kwargs: Any) -> fields.String:
    """Which clock ``as_of`` is on (the service's, or the sources')."""
    return fields.String(
        load_default="recorded",
        validate=validate.OneOf(CLOCKS),
        metadata={
            "description": "recorded: as the service held it at as_of; stated: as its sources "
            "had published it by as_of (each version's stated_at, each statement's stated_at)."
        },
        **kwargs,
    )


def Moment(**kwargs: Any) -> fields.String:
    """When something occurred: a time with a UTC offset, or a date, month or year alone
    (UTC), checked by the domain (which names the field in its error)."""
    metadata = {
        "description": "A time with a UTC offset (2023-01-08T01:00:00Z), or a date, month or "
        "year alone (2009-02-20, 2009-02, 2009: UTC, and the precision it implies). As an end, "
        "a date, month or year means the moment it is over.",
        "example": "2023-01-08T01:00:00Z",
        **kwargs.pop("metadata", {}),
    }
    return fields.String(validate=validate.Length(1, 64), metadata=metadata, **kwargs)


def StoredTimestamp(**kwargs: Any) -> fields.String:
    """A timestamp already normalised to UTC text by the domain, passed through as is."""
    metadata = {"format": "date-time", **kwargs.pop("metadata", {})}
    return fields.String(metadata=metadata, **kwargs)

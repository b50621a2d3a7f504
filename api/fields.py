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


def Moment(*, end: bool = False, **kwargs: Any) -> fields.String:
    """When something occurred: a time with a UTC offset, or a date, month or year alone
    (UTC), checked by the domain (which names the field in its error)."""
    metadata = {
        "description": "A time with a UTC offset (2023-01-08T01:00:00Z), or a date, month or "
        "year alone (2009-02-20, 2009-02, 2009: UTC, and the precision it implies). As an end, "
        "a date, month or year means the moment it is over"
        + (", which must not be before the start (422)." if end else "."),
        "example": "2023-01-08T01:00:00Z",
        "anyOf": MOMENT_FORMS,
        **kwargs.pop("metadata", {}),
    }
    return fields.String(validate=validate.Length(1, 64), metadata=metadata, **kwargs)


_YEAR = "([1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])"  # 0001 to 9999
# The forms a moment takes, as the OpenAPI document states them (the domain parses them).
MOMENT_FORMS = [
    {"format": "date-time"},
    {"format": "date"},
    {"pattern": f"^{_YEAR}-(0[1-9]|1[0-2])$"},
    {"pattern": f"^{_YEAR}$"},
]

# A web address as ``fields.Url(schemes={"http", "https"})`` takes it (a dotted host name or
# an IPv4 address, an optional port, then anything without spaces), for the document.
WEB_URL = {
    "format": "uri",
    "pattern": r"^https?://([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
    r"(:[0-9]{1,5})?([/?#][!-~]*)?$",
}


def StoredTimestamp(**kwargs: Any) -> fields.String:
    """A timestamp already normalised to UTC text by the domain, passed through as is."""
    metadata = {"format": "date-time", **kwargs.pop("metadata", {})}
    return fields.String(metadata=metadata, **kwargs)

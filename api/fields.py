"""Field types shared by the resource schemas."""

from __future__ import annotations

from typing import Any

from marshmallow import fields

AWARE_ERRORS: dict[str, str | list[Any] | dict[Any, Any]] = {
    "invalid_awareness": "Timestamp must include a UTC offset.",
    "invalid": "Not a valid ISO-8601 timestamp.",
}


def Timestamp(**kwargs: Any) -> fields.AwareDateTime:
    """An ISO-8601 timestamp that must carry a UTC offset (naive times are ambiguous)."""
    return fields.AwareDateTime(format="iso", error_messages=AWARE_ERRORS, **kwargs)


def StoredTimestamp(**kwargs: Any) -> fields.String:
    """A timestamp already normalised to UTC text by the domain, passed through as is."""
    metadata = {"format": "date-time", **kwargs.pop("metadata", {})}
    return fields.String(metadata=metadata, **kwargs)

"""Small factories: each test states only what matters to it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2023, 1, 8, 1, 0, tzinfo=UTC)


def an_incident(**overrides: Any) -> dict[str, Any]:
    """Fields of a plausible incident (domain form: datetimes, not strings)."""
    fields: dict[str, Any] = {
        "title": "Missile strike on Kramatorsk",
        "kind": "strike",
        "occurred": {"start": T0, "precision": "hour"},
        "location": {"name": "Kramatorsk", "country": "UA", "lat": 48.72, "lon": 37.56},
        "actors": ["RU", "UA"],
        "tags": [],
    }
    fields.update(overrides)
    return fields


def a_statement(**overrides: Any) -> dict[str, Any]:
    """Fields of a plausible statement (domain form)."""
    fields: dict[str, Any] = {
        "source": {"name": "Russian Ministry of Defence", "side": "RU", "type": "military"},
        "stance": "claim",
        "text": "Says more than 600 soldiers were killed.",
        "stated_at": T0 + timedelta(hours=10),
        "figures": [{"metric": "killed", "value": 600, "qualifier": "at_least", "subject": "UA"}],
    }
    fields.update(overrides)
    return fields


def as_json(value: Any) -> Any:
    """Domain-form data as the API's JSON (datetimes as ISO text)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    return value

"""An incident's pictures: what it looked like after each version that described it.

See :mod:`timeline.domain.incident` for the two clocks. The application loads pictures from the
event store; read models keep them per version (:mod:`timeline.projections.versions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from timeline.domain import Incident

# The events that make a picture (every other incident event leaves the fields as they were).
PICTURE_EVENTS: tuple[type[Any], ...] = (
    Incident.IncidentReported,
    Incident.IncidentAmended,
    Incident.IncidentRetired,
    Incident.IncidentRestored,
)


@dataclass(frozen=True)
class Picture:
    """The incident's fields and retirement after ``version``, published at ``stated_at``."""

    version: int
    fields: dict[str, Any]
    retired: dict[str, Any] | None
    stated_at: str

    @classmethod
    def of(cls, incident: Incident, version: int) -> Picture:
        """The picture of ``incident`` loaded at ``version`` (a picture version)."""
        return cls(version, incident.fields(), incident.retired, incident.stated_time(version))


def stated_of(event: Any) -> str:
    """When a picture event was published: its ``stated_at``, else when it was recorded."""
    stated: str | None = getattr(event, "stated_at", None)
    return stated or event.timestamp.isoformat("T", "microseconds")

"""ExternalId: which incident a dataset's own id (``ucdp-ged:256002``) names, held uniquely.

An index aggregate, as in the `eventsourcing` library's examples of unique names: its id is
derived from the namespace and value, so at most one stream exists per external id, and it is
saved in the same transaction as the incident that claims it. Two writers claiming the same id
at once cannot both succeed (the event store refuses the second stream's first event); an
incident that gives an id up releases it, and another may claim it later.
"""

from __future__ import annotations

from functools import lru_cache
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from timeline.domain.errors import Conflict

# uuid5 namespace of external-id streams (fixed: changing it would orphan every stored claim).
EXTERNAL_IDS = uuid5(NAMESPACE_URL, "https://conflict-timeline.invalid/external-ids")


@lru_cache(maxsize=1 << 16)
def external_id_stream(namespace: str, value: str) -> UUID:
    """The id of the stream that holds one external id (remembered: a bulk write asks for
    each of a chunk's ids three times, and uuid5 is a SHA-1)."""
    return uuid5(EXTERNAL_IDS, f"{namespace}:{value}")


class ExternalId(Aggregate):
    """One dataset id and the incident it names (None while released)."""

    class ExternalIdClaimed(Aggregate.Created):
        """An incident took the external id for the first time."""

        namespace: str
        value: str
        incident_id: str

    class ExternalIdReclaimed(Aggregate.Event):
        """An incident took an external id that had been released."""

        incident_id: str

    class ExternalIdReleased(Aggregate.Event):
        """The incident that held the external id gave it up (amended it away)."""

    @staticmethod
    def create_id(namespace: str, value: str, incident_id: str) -> UUID:
        """The stream's id follows from the external id (the library calls this)."""
        return external_id_stream(namespace, value)

    @event(ExternalIdClaimed)
    def __init__(self, namespace: str, value: str, incident_id: str) -> None:
        self.namespace = namespace
        self.value = value
        self.incident_id: str | None = incident_id

    def claim(self, incident_id: str) -> None:
        """Take a released id; holding it already is fine; held by another is a conflict."""
        if self.incident_id == incident_id:
            return
        if self.incident_id is not None:
            raise Conflict(
                f"{self.namespace}:{self.value} already names incident {self.incident_id}.",
                f"external_ids.{self.namespace}",
            )
        self._reclaimed(incident_id)

    @event(ExternalIdReclaimed)
    def _reclaimed(self, incident_id: str) -> None:
        self.incident_id = incident_id

    def release(self, incident_id: str) -> None:
        """Give the id up, if this incident holds it."""
        if self.incident_id == incident_id:
            self._released()

    @event(ExternalIdReleased)
    def _released(self) -> None:
        self.incident_id = None

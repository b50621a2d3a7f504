"""The read side of the application: an incident as known at a time, on either clock, its
versions and pictures, and the log itself. Queries return plain data, never live aggregates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, project_aggregate
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from timeline.diff import incident_diff
from timeline.domain import Incident, IncidentNotFound, InvalidValue, values
from timeline.domain.external_id import external_id_stream
from timeline.event_log import LogEntry, head_position, read_log
from timeline.pictures import PICTURE_EVENTS, Picture, stated_of
from timeline.stream_reads import select_streams

Clock = Literal["recorded", "stated"]


class IncidentQueries(Application[UUID]):
    """What the application answers about incidents and the log (its commands build on the
    pictures read here to compare a revision with what was published)."""

    def get_incident(
        self,
        incident_id: UUID,
        as_of: datetime | None = None,
        clock: Clock = "recorded",
        version: int | None = None,
    ) -> dict[str, Any]:
        """The incident with its statements as known at ``as_of`` (now when None).

        ``clock="recorded"``: as the service held it at ``as_of`` (the versions recorded by
        then). ``clock="stated"``: as its sources had published it by ``as_of`` — the picture
        stated last by then (see :mod:`timeline.domain.incident`) and the statements made by
        then; its ``version`` is the last version of the stream that this shows (the picture's
        or a statement's). An incident published later, but spoken of by then, shows its first
        picture.
        ``version`` (without ``as_of``): as the service held it once that version was recorded
        (what a log position names).
        Either way the aggregate comes from the nearest snapshot plus the events after it.
        """
        if as_of is not None and clock == "recorded":
            version = self._version_at(incident_id, as_of)
        try:
            incident: Any = self.repository.get(incident_id, version=version)
        except AggregateNotFoundError:
            raise IncidentNotFound(f"No incident {incident_id}.", "id") from None
        if not isinstance(incident, Incident):  # another record's stream (a dataset id's…)
            raise IncidentNotFound(f"No incident {incident_id}.", "id")
        self._ensure_published(incident)
        if as_of is None or clock == "recorded":
            picture = self._picture(incident, incident.picture_version() or 1)
            return incident_view(incident, picture)
        cutoff = values.timestamp(as_of, "as_of")
        said = [s for s in incident_view(incident)["statements"] if s["stated_at"] <= cutoff]
        published = incident.picture_version(cutoff)
        if published is None and not [s for s in said if not s["withdrawn"]]:
            raise IncidentNotFound(
                f"Nothing about incident {incident_id} had been published by {as_of.isoformat()}.",
                "as_of",
            )
        shown = published or incident.first_picture_version()
        picture = self._picture(incident, shown)
        recorded_in = self._statement_versions(incident)
        version = max([shown, *(recorded_in[s["id"]] for s in said)])
        return incident_view(incident, picture) | {"statements": said, "version": version}

    def _statement_versions(self, incident: Incident) -> dict[str, int]:
        """The version each statement was recorded in (read from the stream: the aggregate
        keeps when, not which version)."""
        topic = get_topic(Incident.StatementRecorded)
        stored = self.recorder.select_events(incident.id, lte=incident.version)
        return {
            cast(Any, self.mapper.to_domain_event(s)).statement["id"]: s.originator_version
            for s in stored
            if s.topic == topic
        }

    def _version_at(self, incident_id: UUID, as_of: datetime) -> int:
        """The last version recorded at or before ``as_of``: the index from time to version.

        Binary search over the stream's own primary key (incident, version), decoding one event
        per probe: about log2(versions) point reads. Event times increase along a stream.
        """
        latest = self.recorder.select_events(incident_id, desc=True, limit=1)
        if not latest:
            raise IncidentNotFound(f"No incident {incident_id}.", "id")

        def recorded(version: int) -> datetime:
            (stored,) = self.recorder.select_events(
                incident_id, gt=version - 1, lte=version, limit=1
            )
            event: Any = self.mapper.to_domain_event(stored)
            moment: datetime = event.timestamp
            return moment

        low, high = 1, latest[0].originator_version
        if recorded(low) > as_of:
            raise IncidentNotFound(
                f"Incident {incident_id} was not yet recorded at {as_of.isoformat()}.", "as_of"
            )
        while low < high:  # invariant: recorded(low) <= as_of
            middle = (low + high + 1) // 2
            if recorded(middle) <= as_of:
                low = middle
            else:
                high = middle - 1
        return low

    def diff_incident(
        self, incident_id: UUID, start: datetime, end: datetime, clock: Clock = "recorded"
    ) -> dict[str, Any]:
        """What changed in the incident between ``start`` and ``end`` (see timeline.diff)."""
        if start > end:
            raise InvalidValue("'from' must not be after 'to'.", "from")
        after = self.get_incident(incident_id, end, clock)
        try:
            before: dict[str, Any] | None = self.get_incident(incident_id, start, clock)
        except IncidentNotFound:
            before = None  # not yet known then: everything it has by `end` is new
        return incident_diff(before, after)

    def read_events(self, after: int, limit: int) -> list[LogEntry]:
        """The raw log after a position, for consumers that follow it."""
        return read_log(self, after, limit)

    def head(self) -> int:
        """The log's newest position."""
        return head_position(self)

    def _ensure_published(self, incident: Incident) -> None:
        """Fill in which versions made pictures when the incident came from a snapshot taken
        before that was kept (read from its stream, once per load)."""
        if incident.published is not None:
            return
        topics = {get_topic(c) for c in PICTURE_EVENTS}
        stored = self.recorder.select_events(incident.id, lte=incident.version)
        incident.published = [
            [s.originator_version, stated_of(self.mapper.to_domain_event(s))]
            for s in stored
            if s.topic in topics
        ]

    def _picture(self, incident: Incident, version: int) -> Picture:
        """The incident's picture at one of its picture versions (loaded when not current)."""
        assert incident.published is not None
        if version == incident.published[-1][0]:
            return Picture.of(incident, version)
        past: Incident = self.repository.get(incident.id, version=version)
        self._ensure_published(past)
        return Picture.of(past, version)

    def pictures_of(self, namespace: str, values: Sequence[str]) -> dict[str, list[Picture]]:
        """Every picture of the incidents these external ids name (by id; an id that names
        none is left out), replayed in memory from their streams in a few queries — what a
        release checks for a whole namespace without loading each version on its own."""
        streams = {external_id_stream(namespace, value): value for value in values}
        named: dict[UUID, str] = {}
        for stream, stored in select_streams(self.recorder, streams).items():
            claim = self._replayed(stored)
            if claim is not None and claim.incident_id is not None:
                named[UUID(claim.incident_id)] = streams[stream]
        topics = {get_topic(c) for c in PICTURE_EVENTS}
        found: dict[str, list[Picture]] = {}
        for incident_id, stored in select_streams(self.recorder, named).items():
            incident: Any = None
            pictures = []
            for record in stored:
                event: Any = self.mapper.to_domain_event(record)
                incident = event.mutate(incident)
                if record.topic in topics:  # (fields are replaced, never changed in place)
                    pictures.append(Picture(incident.version, incident.fields(),
                                            incident.retired, stated_of(event)))  # fmt: skip
            found[named[incident_id]] = pictures
        return found

    def _replayed(self, stored: Sequence[StoredEvent]) -> Any:
        """An aggregate from all its stored events, as the library replays it (None: none)."""
        return project_aggregate(None, (self.mapper.to_domain_event(s) for s in stored))


def incident_view(incident: Incident, picture: Picture | None = None) -> dict[str, Any]:
    """An incident as plain data: its fields (those of ``picture``, by default its current
    state), retirement and statements, each statement with when it was recorded."""
    statements = [
        {
            **statement,
            "recorded_at": incident.recorded_at[sid],
            "withdrawn": dict(incident.withdrawals[sid]) if sid in incident.withdrawals else None,
        }
        for sid, statement in incident.statements.items()
    ]
    retired = picture.retired if picture is not None else incident.retired
    if retired is not None:
        retired = {**retired, "retired_at": values.timestamp(retired["retired_at"], "retired_at")}
    return {
        "id": str(incident.id),
        "version": incident.version,
        **(picture.fields if picture is not None else incident.fields()),
        "retired": dict(retired) if retired is not None else None,
        "stated_at": picture.stated_at if picture is not None else None,
        "reported_at": incident.created_on,
        "updated_at": incident.modified_on,
        "statements": statements,
    }

"""TimelineApp: the commands that append events and the queries that replay them.

Commands load an incident, call the aggregate, and save; a concurrent writer on the same
incident makes the save fail with the library's IntegrityError, so the command reloads and tries
again. Queries return plain data, never live aggregates.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, Recording

from timeline.diff import incident_diff
from timeline.domain import Conflict, Incident, IncidentNotFound, InvalidValue, values
from timeline.domain.external_id import ExternalId, external_id_stream
from timeline.domain.values import By
from timeline.event_log import LogEntry, head_position, read_log

Clock = Literal["recorded", "stated"]
T = TypeVar("T")

MAX_ATTEMPTS = 20
# The most items one batch may hold (one transaction; larger loads go in several batches).
MAX_BATCH_ITEMS = 10_000


@dataclass(frozen=True)
class Written:
    """What a command stored: the incident, its new version, and the log position reached."""

    incident_id: str
    version: int
    position: int | None  # None: nothing was written (a change to the current values)
    recorded_at: datetime
    statement: dict[str, Any] | None = None
    changes: dict[str, Any] | None = None
    statements: list[dict[str, Any]] = field(default_factory=list)


class TimelineApp(Application[UUID]):
    """The event-sourced application: every write is an event on an incident's stream."""

    name = "Timeline"
    # A snapshot every 200 events bounds the replay behind a cold load (the aggregate cache
    # serves warm ones); each snapshot writes the whole state, so not more often.
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Incident: 200}

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        super().__init__(env)
        self.on_append: Callable[[int], None] = lambda position: None

    # ------------------------------------------------------------------ commands

    def report_incident(
        self,
        fields: Mapping[str, Any],
        incident_id: UUID | None = None,
        statements: Sequence[Mapping[str, Any]] = (),
        by: By = None,
    ) -> Written:
        """Report a new incident, optionally with its first statements, in one atomic write.

        ``by`` (on every command) says who wrote it; it goes into each event.
        """
        for attempt in range(MAX_ATTEMPTS):
            incident = Incident.report(fields, incident_id, by)
            recorded = [incident.record_statement(*_split_id(s), by=by) for s in statements]
            if incident_id is not None and self.exists(incident_id):
                raise Conflict(f"Incident {incident_id} already exists.", "id")
            claims: dict[UUID, ExternalId] = {}
            self._claim(str(incident.id), {}, incident.external_ids, claims)
            try:
                recordings = self.save(incident, *claims.values())
            except IntegrityError:
                if self.exists(incident.id):
                    raise Conflict(f"Incident {incident.id} already exists.", "id") from None
                back_off(attempt)  # another writer claimed one of its external ids first
                continue
            return self._written(incident, recordings, statements=recorded)
        raise Conflict("The report kept colliding with concurrent writers; try again.", None)

    def amend_incident(
        self, incident_id: UUID, changes: Mapping[str, Any], reason: str, by: By = None
    ) -> Written:
        """Change an incident's fields with a reason; the old values stay in its history."""

        def amend(incident: Incident) -> Written:
            before = dict(incident.external_ids)
            changed = incident.amend(changes, reason, by)
            if not changed:
                return Written(str(incident.id), incident.version, None, incident.modified_on,
                               changes={})  # fmt: skip
            claims: dict[UUID, ExternalId] = {}
            self._claim(str(incident.id), before, incident.external_ids, claims)
            recordings = self.save(incident, *claims.values())
            return self._written(incident, recordings, changes=changed)

        return self._retrying(incident_id, amend)

    def record_statement(
        self, incident_id: UUID, fields: Mapping[str, Any], by: By = None
    ) -> Written:
        """Record a statement in an incident's stream (``fields`` may name its ``id``)."""

        def record(incident: Incident) -> Written:
            statement = incident.record_statement(*_split_id(fields), by=by)
            return self._written(incident, self.save(incident), statement=statement)

        return self._retrying(incident_id, record)

    def withdraw_statement(
        self, incident_id: UUID, statement_id: str, reason: str, by: By = None
    ) -> Written:
        """Editorially withdraw a mis-recorded statement; it stays visible in history."""

        def withdraw(incident: Incident) -> Written:
            incident.withdraw_statement(statement_id, reason, by)
            return self._written(incident, self.save(incident))

        return self._retrying(incident_id, withdraw)

    def apply_batch(self, items: Sequence[Mapping[str, Any]], by: By = None) -> list[Written]:
        """Report incidents and record statements in bulk, all in one transaction.

        Each item is either a new incident (its fields, optional ``id``, ``statements``) or an
        existing one (``id`` and ``statements`` only); an incident may appear in several items.
        Any rejected item rejects the whole batch, naming the item (``items.N.…``); nothing is
        written.
        """
        if len(items) > MAX_BATCH_ITEMS:
            raise InvalidValue(f"At most {MAX_BATCH_ITEMS} items in one batch.", "items")
        for attempt in range(MAX_ATTEMPTS):
            touched: dict[UUID, Incident] = {}
            claims: dict[UUID, ExternalId] = {}
            incidents: list[Incident] = []
            recorded: list[list[dict[str, Any]]] = []
            for index, item in enumerate(items):
                try:
                    incident, statements = self._batch_item(item, touched, claims, by)
                except IncidentNotFound as error:
                    raise InvalidValue(error.message, f"items.{index}.id") from None
                except (InvalidValue, Conflict) as error:
                    error.field = f"items.{index}" + (f".{error.field}" if error.field else "")
                    raise
                touched[incident.id] = incident
                incidents.append(incident)
                recorded.append(statements)
            try:
                recordings = self.save(*touched.values(), *claims.values())
            except IntegrityError:
                back_off(attempt)  # a concurrent writer got there first: reload and retry
                continue
            position = _last_position(recordings) if recordings else self.head()
            return [
                Written(
                    incident_id=str(incident.id),
                    version=incident.version,
                    position=position,
                    recorded_at=incident.modified_on,
                    statements=statements,
                )
                for incident, statements in zip(incidents, recorded, strict=True)
            ]
        raise Conflict("The batch kept colliding with concurrent writers; try again.", None)

    def _batch_item(
        self,
        item: Mapping[str, Any],
        touched: Mapping[UUID, Incident],
        claims: dict[UUID, ExternalId],
        by: By,
    ) -> tuple[Incident, list[dict[str, Any]]]:
        statements = item.get("statements") or []
        fields = {k: v for k, v in item.items() if k not in ("id", "statements")}
        incident_id = _uuid(item.get("id"), "id")
        if fields or incident_id is None:
            if incident_id is not None and (incident_id in touched or self.exists(incident_id)):
                raise Conflict(f"Incident {incident_id} already exists.", "id")
            incident = Incident.report(fields, incident_id, by)
            self._claim(str(incident.id), {}, incident.external_ids, claims)
        else:
            incident = touched.get(incident_id) or self._load(incident_id)
        recorded = []
        for index, statement in enumerate(statements):
            try:
                recorded.append(incident.record_statement(*_split_id(statement), by=by))
            except (InvalidValue, Conflict) as error:
                error.field = f"statements.{index}" + (f".{error.field}" if error.field else "")
                raise
        return incident, recorded

    def _claim(
        self,
        incident_id: str,
        before: Mapping[str, str],
        after: Mapping[str, str],
        claims: dict[UUID, ExternalId],
    ) -> None:
        """Claim the external ids an incident gained and release those it lost, into
        ``claims`` (saved with the incident). A claim held by another incident is a Conflict."""
        for namespace, value in after.items():
            if before.get(namespace) == value:
                continue
            claim = self._external_id(namespace, value, claims)
            if claim is None:
                claim = ExternalId(namespace=namespace, value=value, incident_id=incident_id)
            else:
                claim.claim(incident_id)
            claims[claim.id] = claim
        for namespace, value in before.items():
            if after.get(namespace) != value:
                claim = self._external_id(namespace, value, claims)
                if claim is not None:
                    claim.release(incident_id)
                    claims[claim.id] = claim

    def _external_id(
        self, namespace: str, value: str, claims: Mapping[UUID, ExternalId]
    ) -> ExternalId | None:
        stream = external_id_stream(namespace, value)
        if stream in claims:
            return claims[stream]
        try:
            found: ExternalId = self.repository.get(stream)
        except AggregateNotFoundError:
            return None
        return found

    def incident_by_external_id(self, namespace: str, value: str) -> str | None:
        """The incident a dataset's id names now (None: no incident holds it)."""
        claim = self._external_id(namespace, value, {})
        return claim.incident_id if claim is not None else None

    def _retrying(self, incident_id: UUID, command: Callable[[Incident], T]) -> T:
        for attempt in range(MAX_ATTEMPTS):
            incident = self._load(incident_id)
            try:
                return command(incident)
            except IntegrityError:
                back_off(attempt)  # another writer saved first: reload and apply again
        raise Conflict("The incident kept changing under concurrent writers; try again.", None)

    def _load(self, incident_id: UUID) -> Incident:
        try:
            incident: Incident = self.repository.get(incident_id)
        except AggregateNotFoundError:
            raise IncidentNotFound(f"No incident {incident_id}.", "id") from None
        return incident

    def exists(self, incident_id: UUID) -> bool:
        """Whether an incident with this id has been reported."""
        return bool(self.recorder.select_events(incident_id, limit=1))

    def _written(
        self, incident: Incident, recordings: list[Recording[UUID]], **extra: Any
    ) -> Written:
        return Written(
            incident_id=str(incident.id),
            version=incident.version,
            position=_last_position(recordings),
            recorded_at=incident.modified_on,
            **extra,
        )

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """Save, then tell whoever listens (the projection trigger) how far the log has grown."""
        recordings = super().save(*objs, **kwargs)
        if recordings:
            self.on_append(_last_position(recordings))
        return recordings

    # ------------------------------------------------------------------ queries

    def get_incident(
        self, incident_id: UUID, as_of: datetime | None = None, clock: Clock = "recorded"
    ) -> dict[str, Any]:
        """The incident with its statements as known at ``as_of`` (now when None).

        ``clock="recorded"`` shows the incident at the last version stored by ``as_of``;
        ``clock="stated"`` keeps every editorial event but only the statements their sources had
        made by ``as_of``. Either way the aggregate comes from the nearest snapshot plus the
        events after it, so long-lived incidents stay fast.
        """
        version = None
        if as_of is not None and clock == "recorded":
            version = self._version_at(incident_id, as_of)
        try:
            incident: Incident = self.repository.get(incident_id, version=version)
        except AggregateNotFoundError:
            raise IncidentNotFound(f"No incident {incident_id}.", "id") from None
        view = incident_view(incident)
        if as_of is not None and clock == "stated":
            cutoff = values.timestamp(as_of, "as_of")
            view["statements"] = [s for s in view["statements"] if s["stated_at"] <= cutoff]
            if not view["statements"] and view["occurred"]["start"] > cutoff:
                raise IncidentNotFound(
                    f"Nothing about incident {incident_id} had been said by {as_of.isoformat()}.",
                    "as_of",
                )
        return view

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


def incident_view(incident: Incident) -> dict[str, Any]:
    """An incident as plain data: its fields and statements, each with when it was recorded."""
    statements = [
        {
            **statement,
            "recorded_at": incident.recorded_at[sid],
            "withdrawn": dict(incident.withdrawals[sid]) if sid in incident.withdrawals else None,
        }
        for sid, statement in incident.statements.items()
    ]
    return {
        "id": str(incident.id),
        "version": incident.version,
        **incident.fields(),
        "reported_at": incident.created_on,
        "updated_at": incident.modified_on,
        "statements": statements,
    }


def back_off(attempt: int) -> None:
    """Sleep a little, longer after each lost race, with jitter so writers stop colliding."""
    time.sleep(random.uniform(0, 0.002 * 2 ** min(attempt, 6)))


def _uuid(raw: object, field: str) -> UUID | None:
    if raw is None or isinstance(raw, UUID):
        return raw
    try:
        return UUID(str(raw))
    except ValueError:
        raise InvalidValue("Not a valid UUID.", field) from None


def _split_id(statement: Mapping[str, Any]) -> tuple[dict[str, Any], UUID | None]:
    """A client may name a statement's id so that a retried request cannot record it twice."""
    fields = {k: v for k, v in statement.items() if k != "id"}
    return fields, _uuid(statement.get("id"), "id")


def _last_position(recordings: Sequence[Recording[UUID]]) -> int:
    return max(r.notification.id for r in recordings)

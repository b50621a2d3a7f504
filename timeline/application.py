"""TimelineApp: the commands that append events and the queries that replay them.

Commands load an incident, call the aggregate, and save; a concurrent writer on the same
incident makes the save fail with the library's IntegrityError, so the command reloads and tries
again. Queries return plain data, never live aggregates.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal, TypeVar, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, project_aggregate
from eventsourcing.persistence import IntegrityError, Recording, StoredEvent
from eventsourcing.utils import get_topic

from timeline.diff import incident_diff
from timeline.domain import (
    Conflict,
    DomainError,
    Incident,
    IncidentNotFound,
    InvalidValue,
    StaleVersion,
    values,
)
from timeline.domain.external_id import ExternalId, external_id_stream
from timeline.domain.quality import Findings
from timeline.domain.values import By
from timeline.event_log import LogEntry, head_position, read_log
from timeline.pictures import PICTURE_EVENTS, Picture, stated_of
from timeline.stream_reads import select_streams

Clock = Literal["recorded", "stated"]
# External-id claims a command looked up (None: none yet) or changed, by stream id: saved with it.
Claims = dict[UUID, ExternalId | None]
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
    # What happened to the incident: reported, amended, retired, restored or unchanged.
    outcome: str = "unchanged"


@dataclass(frozen=True)
class Revision:
    """A new picture of an incident, as its source published it.

    ``fields``: the fields it gives (others keep their values); ``stated_at``: when it was
    published (None: now). Retirement: ``retire`` retires it, ``restore`` brings it back;
    neither keeps the retirement as it stood — except that with ``revive`` an incident its
    source had removed comes back (the source has it again), while one retired as a duplicate
    or an error stays retired.
    """

    fields: Mapping[str, Any]
    reason: str
    stated_at: object = None
    retire: Mapping[str, Any] | None = None
    restore: bool = False
    revive: bool = False
    # The writer records a source as published: its breaches are flagged, not refused.
    as_published: bool = False
    # A release lists the incident: its picture is recorded at exactly the stated time (an
    # empty amendment when nothing changed: outcome "listed"), so that a release loaded later
    # between two others cannot change what the later one said.
    pin: bool = False


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
        stated_at: object = None,
    ) -> Written:
        """Report a new incident, optionally with its first statements, in one atomic write.

        ``by`` (on every command) says who wrote it; it goes into each event. ``stated_at``
        (on every command that describes the incident) says when its source published it.
        """
        for attempt in range(MAX_ATTEMPTS):
            incident = Incident.report(fields, incident_id, by, stated_at)
            recorded = []
            for index, statement in enumerate(statements):
                try:
                    recorded.append(incident.record_statement(*_split_id(statement), by=by))
                except InvalidValue as error:  # named as the body names it
                    error.field = f"statements.{index}" + (f".{error.field}" if error.field else "")
                    raise
            if incident_id is not None and self.exists(incident_id):
                raise Conflict(f"Incident {incident_id} already exists.", "id")
            claims: Claims = {}
            self._claim(str(incident.id), {}, incident.external_ids, claims)
            try:
                recordings = self.save(incident, *_changed(claims))
            except IntegrityError:
                if self.exists(incident.id):
                    raise Conflict(f"Incident {incident.id} already exists.", "id") from None
                back_off(attempt)  # another writer claimed one of its external ids first
                continue
            return self._written(incident, recordings, statements=recorded, outcome="reported")
        raise Conflict("The report kept colliding with concurrent writers; try again.", None)

    def amend_incident(
        self,
        incident_id: UUID,
        changes: Mapping[str, Any],
        reason: str,
        by: By = None,
        stated_at: object = None,
        expected: Container[int] | None = None,
    ) -> Written:
        """Change an incident's fields with a reason; the old values stay in its history.

        With ``stated_at``, the changes are to the incident as published then (see
        :meth:`revise`). Changes to the values already there write nothing. ``expected`` (on
        every command that changes an incident): the versions the caller last read; when the
        incident is at another one, :class:`StaleVersion` and nothing is written.
        """
        return self.revise(incident_id, Revision(changes, reason, stated_at), by, expected)

    def retire_incident(
        self,
        incident_id: UUID,
        reason: str,
        duplicate_of: object = None,
        note: object = None,
        by: By = None,
        stated_at: object = None,
        expected: Container[int] | None = None,
    ) -> Written:
        """Take an incident off the timeline, claims, ceasefires and sources, saying why; it
        stays readable by id (marked retired) and in its history. Retiring a retired incident
        writes nothing."""
        retirement = {"reason": reason, "duplicate_of": duplicate_of, "note": note}
        revision = Revision({}, str(note or reason), stated_at, retire=retirement)
        return self.revise(incident_id, revision, by, expected)

    def restore_incident(
        self,
        incident_id: UUID,
        reason: str,
        by: By = None,
        stated_at: object = None,
        expected: Container[int] | None = None,
    ) -> Written:
        """Bring a retired incident back; restoring one that is not retired writes nothing."""
        revision = Revision({}, reason, stated_at, restore=True)
        return self.revise(incident_id, revision, by, expected)

    def revise(
        self,
        incident_id: UUID,
        revision: Revision,
        by: By = None,
        expected: Container[int] | None = None,
    ) -> Written:
        """Record a new picture of an incident (see :class:`Revision`), if it is new.

        What it is compared with is the incident as published at the revision's stated time,
        so loading a dataset's releases in any order leaves each release's picture in place.
        """

        def revise(incident: Incident) -> Written:
            claims: Claims = {}
            outcome, changed = self._revise(incident, revision, claims, by)
            if outcome == "unchanged":
                return Written(str(incident.id), incident.version, None, incident.modified_on,
                               changes={})  # fmt: skip
            recordings = self.save(incident, *_changed(claims))
            return self._written(incident, recordings, changes=changed, outcome=outcome)

        return self._retrying(incident_id, revise, expected)

    def _revise(
        self, incident: Incident, revision: Revision, claims: Claims, by: By
    ) -> tuple[str, dict[str, Any]]:
        """Trigger the events that make ``revision`` the incident's picture at its stated
        time; returns the outcome and the fields that changed (nothing triggered: unchanged).

        The events change the current state (the last version recorded) into the revision's
        picture, so that the picture is that state after them: a retirement or restoration if
        that changes, and an amendment with the fields that differ — an empty one when nothing
        does but the picture is new at that stated time.
        """
        stated = values.stated_at(revision.stated_at) if revision.stated_at is not None else None
        findings = Findings(revision.as_published, release=stated)
        checked = values.incident_fields(revision.fields, partial=True, findings=findings)
        retirement = None
        if revision.retire is not None:
            retirement = values.retirement(**revision.retire)
            self._check_duplicate_of(incident, retirement["duplicate_of"])
        self._ensure_published(incident)
        version = incident.picture_version(stated)
        picture = self._picture(incident, version) if version is not None else None
        base = picture or self._picture(incident, incident.first_picture_version())
        checked = values.with_flags(base.fields["flags"], checked)
        desired = {**base.fields, **checked}
        retired: Mapping[str, Any] | None = base.retired
        if retirement is not None:
            retired = retirement
        elif revision.restore or (
            revision.revive and retired is not None and retired["reason"] == "removed_by_source"
        ):
            retired = None
        same = (
            picture is not None
            and picture.fields == desired
            and bool(picture.retired) == bool(retired)
        )
        pinned = version is not None and incident.stated_time(version) == stated
        if same and (not revision.pin or stated is None or pinned):
            return "unchanged", {}
        before = dict(incident.external_ids)
        # Nothing differs from the picture standing then (or, before any, the first one): the
        # version only dates what a release listed.
        unchanged = base.fields == desired and bool(base.retired) == bool(retired)
        outcome = "listed" if unchanged else "amended"
        if retired is not None and incident.retired is None:
            reason, original, note = (retired.get(k) for k in ("reason", "duplicate_of", "note"))
            incident.retire(reason, original, note, by=by, stated_at=stated)
            outcome = "retired"
        elif retired is None and incident.retired is not None:
            incident.restore(revision.reason, by=by, stated_at=stated)
            outcome = "restored"
        # Only the fields that differ go to the amendment (so stored values the caller did not
        # give are not checked again); none when only the retirement changed, or when the
        # picture is new at that stated time but says what the incident says now: then an
        # amendment of nothing ("always") dates it.
        differing = {k: v for k, v in desired.items() if getattr(incident, k) != v}
        always = outcome in ("amended", "listed")
        changed = incident.amend(differing, revision.reason, by, stated, always=always,
                                 as_published=revision.as_published)  # fmt: skip
        self._claim(str(incident.id), before, incident.external_ids, claims)
        return outcome, changed

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

    def _check_duplicate_of(self, incident: Incident, original: str | None) -> None:
        if original is None:
            return
        original_id = _uuid(original, "duplicate_of")
        if original_id == incident.id:
            raise InvalidValue("An incident cannot duplicate itself.", "duplicate_of")
        if original_id is None or not self.exists(original_id):
            raise InvalidValue(f"No incident {original} to be a duplicate of.", "duplicate_of")

    def record_statement(
        self,
        incident_id: UUID,
        fields: Mapping[str, Any],
        by: By = None,
        expected: Container[int] | None = None,
    ) -> Written:
        """Record a statement in an incident's stream (``fields`` may name its ``id``)."""

        def record(incident: Incident) -> Written:
            statement = incident.record_statement(*_split_id(fields), by=by)
            return self._written(incident, self.save(incident), statement=statement)

        return self._retrying(incident_id, record, expected)

    def withdraw_statement(
        self,
        incident_id: UUID,
        statement_id: str,
        reason: str,
        by: By = None,
        expected: Container[int] | None = None,
    ) -> Written:
        """Editorially withdraw a mis-recorded statement; it stays visible in history."""

        def withdraw(incident: Incident) -> Written:
            incident.withdraw_statement(statement_id, reason, by)
            return self._written(incident, self.save(incident))

        return self._retrying(incident_id, withdraw, expected)

    def apply_batch(
        self,
        items: Sequence[Mapping[str, Any]],
        by: By = None,
        stated_at: object = None,
        as_published: bool = False,
        listed: bool = False,
    ) -> list[Written]:
        """Upsert incidents and their statements in bulk, all in one transaction.

        Each item names an incident by ``id`` or by one of its ``external_ids``, or is new.
        A new one with fields is reported. An existing one with fields is revised (see
        :meth:`revise`, with ``revive``): changed fields make one amendment, unchanged ones
        nothing. ``retire`` (reason, duplicate_of, note) retires it. Its ``statements`` are
        recorded unless recorded already with the same content (the same id with other content
        is a conflict: a statement, once made, is not edited). ``stated_at`` (per item, or for
        the whole batch) dates the versions written. So re-sending a batch writes nothing.
        ``as_published``: the items record a source as published, so where it breaks its own
        rules they are stored and flagged (:mod:`timeline.domain.quality`), not refused.
        ``listed``: the items are the rows of a release dated ``stated_at``: each gets a
        version stated then, even when nothing changed (see :class:`Revision`'s ``pin``).
        Any rejected item rejects the whole batch, naming the item (``items.N.…``); nothing is
        written.
        """
        if len(items) > MAX_BATCH_ITEMS:
            raise InvalidValue(f"At most {MAX_BATCH_ITEMS} items in one batch.", "items")
        for attempt in range(MAX_ATTEMPTS):
            touched: dict[UUID, Incident] = {}
            claims: Claims = {}
            self._prefetch(items, touched, claims)
            results: list[tuple[Incident, str, list[dict[str, Any]]]] = []
            for index, item in enumerate(items):
                try:
                    results.append(
                        self._batch_item(item, touched, claims, by, stated_at, as_published, listed)
                    )
                except IncidentNotFound as error:
                    raise InvalidValue(error.message, f"items.{index}.id") from None
                except (InvalidValue, Conflict) as error:
                    error.field = f"items.{index}" + (f".{error.field}" if error.field else "")
                    raise
            try:
                recordings = self.save(*touched.values(), *_changed(claims))
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
                    outcome=outcome,
                )
                for incident, outcome, statements in results
            ]
        raise Conflict("The batch kept colliding with concurrent writers; try again.", None)

    def _prefetch(
        self, items: Sequence[Mapping[str, Any]], touched: dict[UUID, Incident], claims: Claims
    ) -> None:
        """Look up every external id the items give and load every incident they name, a few
        queries for the whole batch (the items then find them in ``claims`` and ``touched``).

        One by one these reads were a third of an import's time. An incident long enough to
        have snapshots is left for the item to load the usual way.
        """
        streams: set[UUID] = set()
        named: set[UUID] = set()
        for item in items:
            try:
                incident_id = _uuid(item.get("id"), "id")
                ids = values.external_ids(item.get("external_ids") or {})
            except DomainError:
                continue  # the item will say what is wrong with it, naming its place
            if incident_id is not None:
                named.add(incident_id)
            streams.update(external_id_stream(*pair) for pair in ids.items())
        found = select_streams(self.recorder, streams)
        for stream in streams:
            claims[stream] = self._replayed(found.get(stream, []))
        named.update(UUID(c.incident_id) for c in claims.values() if c and c.incident_id)
        snapshot_every = self.snapshotting_intervals[Incident]
        for incident_id, stored in select_streams(self.recorder, named).items():
            if len(stored) < snapshot_every:
                touched[incident_id] = self._replayed(stored)

    def _replayed(self, stored: Sequence[StoredEvent]) -> Any:
        """An aggregate from all its stored events, as the library replays it (None: none)."""
        return project_aggregate(None, (self.mapper.to_domain_event(s) for s in stored))

    def _batch_item(
        self,
        item: Mapping[str, Any],
        touched: dict[UUID, Incident],
        claims: Claims,
        by: By,
        stated_at: object,
        as_published: bool = False,
        listed: bool = False,
    ) -> tuple[Incident, str, list[dict[str, Any]]]:
        """One item of a batch: its incident (added to ``touched``), outcome and statements."""
        control = ("id", "statements", "retire", "reason", "stated_at")
        fields = {k: v for k, v in item.items() if k not in control}
        stated = item.get("stated_at") or stated_at
        incident_id = _uuid(item.get("id"), "id") or self._named(fields, claims)
        incident = touched.get(incident_id) if incident_id is not None else None
        if incident is None and incident_id is not None:
            try:
                incident = self._load(incident_id)
            except IncidentNotFound:
                if not fields:  # statements for an incident that is not there
                    raise
        if incident is not None:
            outcome = "unchanged"
            if fields or item.get("retire"):
                revision = Revision(
                    fields, item.get("reason") or "updated in a batch", stated,
                    retire=item.get("retire"), revive=True, as_published=as_published,
                    pin=listed,
                )  # fmt: skip
                outcome, _ = self._revise(incident, revision, claims, by)
        else:
            incident = Incident.report(fields, incident_id, by, stated, as_published)
            self._claim(str(incident.id), {}, incident.external_ids, claims)
            outcome = "reported"
            if item.get("retire"):
                retirement = values.retirement(**item["retire"])
                self._check_duplicate_of(incident, retirement["duplicate_of"])
                incident.retire(**retirement, by=by, stated_at=stated)
        touched[incident.id] = incident
        recorded = []
        release = values.stated_at(stated) if stated is not None else None
        for index, statement in enumerate(item.get("statements") or []):
            try:
                fields_, sid = _split_id(statement)
                if sid is not None and incident.has_statement(str(sid), fields_):
                    continue
                findings = Findings(as_published, release=release)
                recorded.append(incident.record_statement(fields_, sid, by=by, findings=findings))
            except (InvalidValue, Conflict) as error:
                error.field = f"statements.{index}" + (f".{error.field}" if error.field else "")
                raise
        return incident, outcome, recorded

    def _named(self, fields: Mapping[str, Any], claims: Claims) -> UUID | None:
        """The incident an item's external ids name (None: none does; two: a conflict)."""
        named: set[str] = set()
        for namespace, value in values.external_ids(fields.get("external_ids") or {}).items():
            claim = self._external_id(namespace, value, claims)
            if claim is not None and claim.incident_id is not None:
                named.add(claim.incident_id)
        if len(named) > 1:
            raise Conflict(
                f"These external ids name different incidents: {', '.join(sorted(named))}.",
                "external_ids",
            )
        return UUID(named.pop()) if named else None

    def _claim(
        self,
        incident_id: str,
        before: Mapping[str, str],
        after: Mapping[str, str],
        claims: Claims,
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

    def _external_id(self, namespace: str, value: str, claims: Claims) -> ExternalId | None:
        stream = external_id_stream(namespace, value)
        if stream not in claims:  # looked up once a command (a batch looks up many)
            # Replayed from its events alone: an id's stream is a few events and never
            # snapshotted, so asking the snapshot store first (as the repository does) would
            # double the reads of an import, most of whose ids are new.
            claims[stream] = self._replayed(self.recorder.select_events(stream))
        return claims[stream]

    def incident_by_external_id(self, namespace: str, value: str) -> str | None:
        """The incident a dataset's id names now (None: no incident holds it)."""
        claim = self._external_id(namespace, value, {})
        return claim.incident_id if claim is not None else None

    def _retrying(
        self,
        incident_id: UUID,
        command: Callable[[Incident], T],
        expected: Container[int] | None = None,
    ) -> T:
        for attempt in range(MAX_ATTEMPTS):
            incident = self._load(incident_id)
            if expected is not None and incident.version not in expected:
                # (checked on every attempt: a writer that got in first makes it stale)
                raise StaleVersion(
                    f"Incident {incident_id} is at version {incident.version}, not the version "
                    "If-Match names: read it again, then retry.",
                    incident.version,
                )
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

        ``clock="recorded"``: as the service held it at ``as_of`` (the versions recorded by
        then). ``clock="stated"``: as its sources had published it by ``as_of`` — the picture
        stated last by then (see :mod:`timeline.domain.incident`) and the statements made by
        then; its ``version`` is the last version of the stream that this shows (the picture's
        or a statement's). An incident published later, but spoken of by then, shows its first
        picture.
        Either way the aggregate comes from the nearest snapshot plus the events after it.
        """
        version = None
        if as_of is not None and clock == "recorded":
            version = self._version_at(incident_id, as_of)
        try:
            incident: Incident = self.repository.get(incident_id, version=version)
        except AggregateNotFoundError:
            raise IncidentNotFound(f"No incident {incident_id}.", "id") from None
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


def _changed(claims: Claims) -> list[ExternalId]:
    return [claim for claim in claims.values() if claim is not None]


def _last_position(recordings: Sequence[Recording[UUID]]) -> int:
    return max(r.notification.id for r in recordings)

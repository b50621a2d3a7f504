"""TimelineApp: the commands that append events to incidents' streams.

Commands load an incident, call the aggregate, and save; a concurrent writer on the same
incident makes the save fail with the library's IntegrityError, so the command reloads and tries
again. Many upserts at once go through the bulk writer (:mod:`timeline.bulk`), which uses the
same revision and claims; the queries are the read side (:mod:`timeline.queries`).
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording

from timeline.bulk import BulkWriter, Options
from timeline.domain import Conflict, Incident, IncidentNotFound, InvalidValue, StaleVersion, values
from timeline.domain.external_id import ExternalId, external_id_stream
from timeline.domain.quality import Findings
from timeline.domain.values import By
from timeline.queries import Clock, IncidentQueries, incident_view
from timeline.writing import (
    MAX_ATTEMPTS,
    Claims,
    Revision,
    Written,
    back_off,
    changed_claims,
    last_position,
    split_id,
    uuid_of,
)

__all__ = ["Clock", "Revision", "TimelineApp", "Written", "incident_view"]
T = TypeVar("T")


@dataclass(frozen=True)
class Checked:
    """A revision's values after the domain's checks: what it may change."""

    stated: str | None
    fields: dict[str, Any]
    retirement: dict[str, Any] | None


class TimelineApp(IncidentQueries):
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
                    recorded.append(incident.record_statement(*split_id(statement), by=by))
                except InvalidValue as error:  # named as the body names it
                    error.field = f"statements.{index}" + (f".{error.field}" if error.field else "")
                    raise
            if incident_id is not None and self.exists(incident_id):
                raise Conflict(f"Incident {incident_id} already exists.", "id")
            claims: Claims = {}
            self._claim(str(incident.id), {}, incident.external_ids, claims)
            try:
                recordings = self.save(incident, *changed_claims(claims))
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
            recordings = self.save(incident, *changed_claims(claims))
            return self._written(incident, recordings, changes=changed, outcome=outcome)

        return self._retrying(incident_id, revise, expected)

    def _checked(self, incident: Incident, revision: Revision) -> Checked:
        """The revision's values through the domain's checks, before anything changes."""
        stated = values.stated_at(revision.stated_at) if revision.stated_at is not None else None
        findings = Findings(revision.as_published, release=stated)
        fields = values.incident_fields(revision.fields, partial=True, findings=findings)
        values.text(revision.reason, "reason", max_length=values.MAX_REASON)
        retirement = None
        if revision.retire is not None:
            retirement = values.retirement(**revision.retire)
            self._check_duplicate_of(incident, retirement["duplicate_of"])
        return Checked(stated, fields, retirement)

    def _revise(
        self,
        incident: Incident,
        revision: Revision,
        claims: Claims,
        by: By,
        checked: Checked | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """Trigger the events that make ``revision`` the incident's picture at its stated
        time; returns the outcome and the fields that changed (nothing triggered: unchanged).

        The events change the current state (the last version recorded) into the revision's
        picture, so that the picture is that state after them: a retirement or restoration if
        that changes, and an amendment with the fields that differ — an empty one when nothing
        does but the picture is new at that stated time. ``checked``: the revision as
        :meth:`_checked` found it (checked here when not given).
        """
        checked = checked or self._checked(incident, revision)
        stated, retirement = checked.stated, checked.retirement
        self._ensure_published(incident)
        version = incident.picture_version(stated)
        picture = self._picture(incident, version) if version is not None else None
        base = picture or self._picture(incident, incident.first_picture_version())
        flagged = values.with_flags(base.fields["flags"], checked.fields)
        desired = {**base.fields, **flagged}
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

    def _check_duplicate_of(self, incident: Incident, original: str | None) -> None:
        if original is None:
            return
        original_id = uuid_of(original, "duplicate_of")
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
            statement = incident.record_statement(*split_id(fields), by=by)
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
        written. (:class:`~timeline.bulk.BulkWriter` can also leave refused items out.)
        """
        options = Options(by, stated_at, as_published, listed)
        outcome = BulkWriter(self).write(items, options, on_refused="raise")
        return [written for _, written in outcome.written]

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
            position=last_position(recordings),
            recorded_at=incident.modified_on,
            **extra,
        )

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """Save, then tell whoever listens (the projection trigger) how far the log has grown.

        The library's own ``save``, but collecting the aggregates' events directly: its
        collector asks ``isinstance`` of two runtime-checkable protocols per object, a fifth of
        the time of saving an import's chunk (3,000 aggregates) when measured.
        """
        processing = ProcessingEvent[UUID]()
        if any(not isinstance(obj, Aggregate) for obj in objs if obj is not None):
            processing.collect_events(*objs, **kwargs)
        else:
            for aggregate in objs:
                if aggregate is not None:
                    processing.events.extend(aggregate.collect_events())
                    processing.aggregates[aggregate.id] = aggregate
            processing.saved_kwargs.update(kwargs)
        recordings = self._record(processing)
        self._take_snapshots(processing)
        self._notify(recordings)
        self.notify(processing.events)  # (the library's deprecated hook, kept as it calls it)
        if recordings:
            self.on_append(last_position(recordings))
        return recordings

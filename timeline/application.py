"""TimelineApp: the commands that append events to incidents' streams.

Commands load an incident, call the aggregate, and save; a concurrent writer on the same
incident makes the save fail with the library's IntegrityError, so the command reloads and tries
again. Many upserts at once go through the bulk writer (:mod:`timeline.bulk`); both work out
revisions and claim dataset ids the same way (:mod:`timeline.revisions`); the queries are the
read side (:mod:`timeline.queries`).
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping, Sequence
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Recording

from timeline.bulk import BulkWriter, Options
from timeline.domain import Conflict, Incident, InvalidValue, StaleVersion
from timeline.domain.values import By
from timeline.queries import Clock, incident_view
from timeline.revisions import IncidentRevisions
from timeline.writing import (
    MAX_ATTEMPTS,
    Claims,
    Revision,
    Written,
    back_off,
    changed_claims,
    last_position,
    split_id,
)

__all__ = ["Clock", "Revision", "TimelineApp", "Written", "incident_view"]
T = TypeVar("T")


class TimelineApp(IncidentRevisions):
    """The event-sourced application: every write is an event on an incident's stream."""

    name = "Timeline"
    # A snapshot every 200 events bounds the replay behind a cold load (the aggregate cache
    # serves warm ones); each snapshot writes the whole state, so not more often.
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Incident: 200}

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
                    error.within(f"statements.{index}")
                    raise
            if incident_id is not None and self.taken(incident_id):
                raise _taken(self, incident_id)
            claims: Claims = {}
            self._claim(str(incident.id), {}, incident.external_ids, claims)
            try:
                recordings = self.save(incident, *changed_claims(claims))
            except IntegrityError:
                if self.taken(incident.id):
                    raise _taken(self, incident.id) from None
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

        def revise(incident: Incident) -> Callable[[], Written]:
            claims: Claims = {}
            outcome, changed = self._revise(incident, revision, claims, by)
            if outcome == "unchanged":
                unchanged = Written(str(incident.id), incident.version, None,
                                    incident.modified_on, changes={})  # fmt: skip
                return lambda: unchanged
            return lambda: self._written(
                incident, self.save(incident, *changed_claims(claims)), changes=changed,
                outcome=outcome,
            )  # fmt: skip

        return self._retrying(incident_id, revise, expected)

    def record_statement(
        self,
        incident_id: UUID,
        fields: Mapping[str, Any],
        by: By = None,
        expected: Container[int] | None = None,
    ) -> Written:
        """Record a statement in an incident's stream (``fields`` may name its ``id``)."""

        def record(incident: Incident) -> Callable[[], Written]:
            statement = incident.record_statement(*split_id(fields), by=by)
            return lambda: self._written(incident, self.save(incident), statement=statement)

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

        def withdraw(incident: Incident) -> Callable[[], Written]:
            incident.withdraw_statement(statement_id, reason, by)
            return lambda: self._written(incident, self.save(incident))

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

    def _retrying(
        self,
        incident_id: UUID,
        command: Callable[[Incident], Callable[[], T]],
        expected: Container[int] | None = None,
    ) -> T:
        """Load the incident, apply ``command`` (its checks and changes), then, if the version
        it was loaded at is one ``expected`` names, save (what ``command`` returned does).

        The command's checks come first: a request that is invalid in itself is refused as
        such whatever its ``If-Match`` (RFC 9110 §13.2.1 evaluates preconditions after the
        request's own checks). Another writer saving first makes the save fail: then all
        again, from a fresh load (so a stale ``If-Match`` is caught on every attempt).
        """
        for attempt in range(MAX_ATTEMPTS):
            incident = self._load(incident_id)
            loaded_at = incident.version
            finish = command(incident)
            if expected is not None and loaded_at not in expected:
                raise StaleVersion(
                    f"Incident {incident_id} is at version {loaded_at}, not the version "
                    "If-Match names: read it again, then retry.",
                    loaded_at,
                )
            try:
                return finish()
            except IntegrityError:
                back_off(attempt)  # another writer saved first: reload and apply again
        raise Conflict("The incident kept changing under concurrent writers; try again.", None)

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


def _taken(app: TimelineApp, stream_id: UUID) -> Conflict:
    """Why a new incident cannot have this id."""
    if app.exists(stream_id):
        return Conflict(f"Incident {stream_id} already exists.", "id")
    return Conflict(f"{stream_id} is the id of another kind of record; choose another.", "id")

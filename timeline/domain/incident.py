"""The Incident aggregate: something that happened or was announced, and every statement about it.

Nothing is edited in place: each change is an event (reported, amended, retired, restored,
statement recorded, statement withdrawn). Public methods check the rules and raise domain errors
*before* an event is triggered, so a rejected command leaves no trace.

Two clocks. Every event is *recorded* at the service's time. The four events that describe the
incident itself (report, amendment, retirement, restoration) are also *stated*: published by
their source at ``stated_at`` (a dataset's release date; by default the recorded time). Each such
event makes a *picture*: the incident's fields and retirement after it. Versions may arrive out
of their published order (an old release loaded after a newer one), so the incident as published
by a time T is the picture of the version stated last by T (ties: the later version), and the
incident "now" is the picture stated last of all — not necessarily the last one recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from timeline.domain import countries, values
from timeline.domain.errors import Conflict, InvalidValue, StatementNotFound
from timeline.domain.quality import Findings
from timeline.domain.values import By

RESPONDING_STANCES = ("denial", "confirmation", "correction", "retraction")


class Incident(Aggregate):
    """An incident with its statements; the unit of consistency (one stream, one version)."""

    # Snapshots store this state. 2: citations may be a free-text reference. 3: places have
    # admin2 and admin3; incidents have properties. 4: actors are objects. 5: external ids.
    # 6: retirement, and when each picture was published. 7: countries as ISO codes.
    # 8: quality flags on the incident and on each statement.
    class_version = 8

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """Snapshots taken before references existed: their citations have none."""
        for statement in state.get("statements", {}).values():
            statement["citations"] = _with_references(statement.get("citations"))

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        """Snapshots taken before admin2/admin3 and properties existed."""
        state["location"] = _with_admin_levels(state.get("location"))
        state.setdefault("properties", {})

    @staticmethod
    def upcast_v3_v4(state: dict[str, Any]) -> None:
        """Snapshots taken when actors were side codes."""
        state["actors"] = _actor_objects(state.get("actors"))

    @staticmethod
    def upcast_v4_v5(state: dict[str, Any]) -> None:
        """Snapshots taken before external ids existed."""
        state.setdefault("external_ids", {})

    @staticmethod
    def upcast_v5_v6(state: dict[str, Any]) -> None:
        """Snapshots taken before retirement and the stated clock: never retired; which versions
        made pictures is not in the snapshot (None: the application reads it from the stream)."""
        state.setdefault("retired", None)
        state.setdefault("published", None)

    @staticmethod
    def upcast_v6_v7(state: dict[str, Any]) -> None:
        """Snapshots taken when a place's country was stored as given."""
        state["location"] = _with_country_code(state.get("location"))

    @staticmethod
    def upcast_v7_v8(state: dict[str, Any]) -> None:
        """Snapshots taken before quality flags: none were found."""
        state.setdefault("flags", [])
        for statement in state.get("statements", {}).values():
            statement.setdefault("flags", [])

    # The events, declared so that read models can dispatch on their classes and type checkers
    # see their fields. Their names are their stored topics: never rename one (upcast instead).

    class IncidentReported(Aggregate.Created):
        """An incident was reported, with all its fields."""

        title: str
        kind: str
        occurred: dict[str, Any]
        location: dict[str, Any] | None
        actors: list[dict[str, Any]]
        tags: list[str]
        by: By = None
        # A dataset's other columns, and its own ids for the incident.
        properties: dict[str, Any] | None = None
        external_ids: dict[str, str] | None = None
        # When its source published it (None: when it was recorded).
        stated_at: str | None = None
        # Where its source broke its own rules (quality flags; None in reports stored before).
        flags: list[dict[str, str]] | None = None

        # 2: places have admin2 and admin3; incidents have properties. 3: actors are objects.
        # 4: external ids. 5: stated_at. 6: countries as ISO codes.
        class_version = 6

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Reports stored before admin2/admin3 and properties existed have none."""
            state["location"] = _with_admin_levels(state.get("location"))
            state["properties"] = {}

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            """Reports stored when actors were side codes."""
            state["actors"] = _actor_objects(state.get("actors"))

        @staticmethod
        def upcast_v3_v4(state: dict[str, Any]) -> None:
            """Reports stored before external ids existed."""
            state["external_ids"] = {}

        @staticmethod
        def upcast_v4_v5(state: dict[str, Any]) -> None:
            """Reports stored before the stated clock were published when recorded."""
            state["stated_at"] = None

        @staticmethod
        def upcast_v5_v6(state: dict[str, Any]) -> None:
            """Reports stored when a place's country was kept as given."""
            state["location"] = _with_country_code(state.get("location"))

    class IncidentAmended(Aggregate.Event):
        """Some fields changed (only those in ``changes``), with the editor's reason."""

        changes: dict[str, Any]
        reason: str
        by: By = None
        # When its source published this version (None: when it was recorded). An amendment
        # may change nothing: it then dates a picture that was published again unchanged.
        stated_at: str | None = None

        # 2: places have admin2 and admin3. 3: actors are objects. 4: stated_at. 5: countries
        # as ISO codes.
        class_version = 5

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """A place amended before admin2/admin3 existed has none."""
            if "location" in state["changes"]:
                location = state["changes"]["location"]
                state["changes"]["location"] = _with_admin_levels(location)

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            """Actors amended when they were side codes."""
            if "actors" in state["changes"]:
                state["changes"]["actors"] = _actor_objects(state["changes"]["actors"])

        @staticmethod
        def upcast_v3_v4(state: dict[str, Any]) -> None:
            """Amendments stored before the stated clock were published when recorded."""
            state["stated_at"] = None

        @staticmethod
        def upcast_v4_v5(state: dict[str, Any]) -> None:
            """A place amended when its country was kept as given."""
            if "location" in state["changes"]:
                location = state["changes"]["location"]
                state["changes"]["location"] = _with_country_code(location)

    class IncidentRetired(Aggregate.Event):
        """The incident left the timeline (``retirement``: reason, duplicate_of, note)."""

        retirement: dict[str, Any]
        by: By = None
        stated_at: str | None = None

    class IncidentRestored(Aggregate.Event):
        """A retired incident came back to the timeline, with the reason."""

        reason: str
        by: By = None
        stated_at: str | None = None

    class StatementRecorded(Aggregate.Event):
        """A source's statement was recorded (``statement`` holds its id and fields)."""

        # 2: a citation may be a free-text ``reference`` instead of a URL. 3: quality flags.
        class_version = 3

        statement: dict[str, Any]
        by: By = None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Citations stored before references existed have none."""
            statement = state["statement"]
            statement["citations"] = _with_references(statement.get("citations"))

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            """Statements recorded before quality flags: none were found."""
            state["statement"].setdefault("flags", [])

    class StatementWithdrawn(Aggregate.Event):
        """A mis-recorded statement was withdrawn editorially; it stays in the history."""

        statement_id: str
        reason: str
        by: By = None

    @event(IncidentReported)
    def __init__(
        self,
        id: UUID,
        title: str,
        kind: str,
        occurred: dict[str, Any],
        location: dict[str, Any] | None,
        actors: list[dict[str, Any]],
        tags: list[str],
        by: By = None,
        properties: dict[str, Any] | None = None,
        external_ids: dict[str, str] | None = None,
        stated_at: str | None = None,
        flags: list[dict[str, str]] | None = None,
    ) -> None:
        self.title = title
        self.kind = kind
        self.occurred = occurred
        self.location = location
        self.actors = actors
        self.tags = tags
        self.properties = properties or {}
        self.external_ids = external_ids or {}
        self.flags = flags or []
        self.statements: dict[str, dict[str, Any]] = {}
        self.recorded_at: dict[str, datetime] = {}
        self.withdrawals: dict[str, dict[str, Any]] = {}
        self.retired: dict[str, Any] | None = None
        # [version, stated time] of each version that made a picture, in version order.
        self.published: list[list[Any]] | None = []
        self._publish(1, stated_at, self.created_on)

    def _publish(self, version: int, stated_at: str | None, recorded: datetime) -> None:
        if self.published is not None:  # None: from an old snapshot (see upcast_v5_v6)
            self.published.append([version, stated_at or recorded.isoformat("T", "microseconds")])

    @classmethod
    def report(
        cls,
        fields: Mapping[str, Any],
        incident_id: UUID | None = None,
        by: By = None,
        stated_at: object = None,
        as_published: bool = False,
    ) -> Incident:
        """Validate the fields of a new incident and report it (the first event of its stream).

        ``by`` names who wrote it (API key id and name); it is kept in the event for the record.
        ``stated_at`` says when its source published it (default: now). ``as_published``: the
        writer records a source as published, so its breaches of its own rules are flagged,
        not refused (:mod:`timeline.domain.quality`).
        """
        stated = _stated(stated_at)
        findings = Findings(as_published, release=stated)
        checked = values.incident_fields(fields, findings=findings)
        return cls(**checked, id=incident_id or uuid4(), by=by, stated_at=stated)

    def amend(
        self,
        changes: Mapping[str, Any],
        reason: str,
        by: By = None,
        stated_at: object = None,
        *,
        always: bool = False,
        as_published: bool = False,
    ) -> dict[str, Any]:
        """Change some fields, saying why; returns only the fields that really changed.

        Giving fields their current values changes nothing and records no event, so a client
        (an importer re-sending a row) need not compare first — unless ``always``: then an
        amendment of nothing dates a picture published again unchanged at ``stated_at`` (the
        application's ``revise`` decides, weighing the stated clock). The fields given replace
        their own flags; other fields' flags stay (``flags`` among the changes: the flags the
        application's revision computed for the whole picture).
        """
        why = values.text(reason, "reason", max_length=values.MAX_REASON)
        stated = _stated(stated_at)
        findings = Findings(as_published, release=stated)
        given = {k: v for k, v in changes.items() if k != "flags"}
        checked = values.incident_fields(given, partial=True, findings=findings)
        checked = values.with_flags(self.flags, checked)
        if "flags" in changes:  # a whole picture's flags, as the domain set them (a revision)
            checked["flags"] = changes["flags"]
        changed = {k: v for k, v in checked.items() if getattr(self, k) != v}
        if changed or always:
            self._amended(changed, why, by, stated)
        return changed

    @event(IncidentAmended)
    def _amended(
        self,
        changes: dict[str, Any],
        reason: str,
        by: By = None,
        stated_at: str | None = None,
        timestamp: datetime | None = None,
    ) -> None:
        assert timestamp is not None, "the library passes the event's timestamp"
        for name, value in changes.items():
            setattr(self, name, value)
        self._publish(self.version + 1, stated_at, timestamp)

    def retire(
        self,
        reason: object,
        duplicate_of: object = None,
        note: object = None,
        by: By = None,
        stated_at: object = None,
    ) -> None:
        """Take the incident off the timeline, saying why; it stays readable and in history."""
        retirement = values.retirement(reason, duplicate_of, note)
        if retirement["duplicate_of"] == str(self.id):
            raise InvalidValue("An incident cannot duplicate itself.", "duplicate_of")
        self._retired(retirement, by, _stated(stated_at))

    @event(IncidentRetired)
    def _retired(
        self,
        retirement: dict[str, Any],
        by: By = None,
        stated_at: str | None = None,
        timestamp: datetime | None = None,
    ) -> None:
        assert timestamp is not None, "the library passes the event's timestamp"
        self.retired = {**retirement, "retired_at": timestamp, "stated_at": stated_at}
        self._publish(self.version + 1, stated_at, timestamp)

    def restore(self, reason: object, by: By = None, stated_at: object = None) -> None:
        """Bring a retired incident back to the timeline, saying why."""
        why = values.text(reason, "reason", max_length=values.MAX_REASON)
        self._restored(why, by, _stated(stated_at))

    @event(IncidentRestored)
    def _restored(
        self,
        reason: str,
        by: By = None,
        stated_at: str | None = None,
        timestamp: datetime | None = None,
    ) -> None:
        assert timestamp is not None, "the library passes the event's timestamp"
        self.retired = None
        self._publish(self.version + 1, stated_at, timestamp)

    def picture_version(self, stated_by: str | None = None) -> int | None:
        """The version whose picture stands as published by ``stated_by`` (canonical UTC
        text; None: of all): the one stated last by then, the later version on a tie. None
        when nothing was published by then. Needs ``published`` (see upcast_v5_v6)."""
        assert self.published is not None, "the application fills it for old snapshots"
        found: list[tuple[str, int]] = [
            (stated, version)
            for version, stated in self.published
            if stated_by is None or stated <= stated_by
        ]
        return max(found)[1] if found else None

    def first_picture_version(self) -> int:
        """The version published first: it stands for the incident before any version was
        published, when statements made earlier already spoke of it."""
        assert self.published is not None, "the application fills it for old snapshots"
        first: tuple[str, int] = min((stated, version) for version, stated in self.published)
        return first[1]

    def record_statement(
        self,
        fields: Mapping[str, Any],
        statement_id: UUID | None = None,
        by: By = None,
        findings: Findings | None = None,
    ) -> dict[str, Any]:
        """Record what a source said about this incident; returns it with its recorded time.
        ``findings`` says whether a source is recorded as published (and its release)."""
        statement = values.statement_fields(fields, findings)
        sid = str(statement_id or uuid4())
        if sid in self.statements:
            raise Conflict(f"Statement {sid} is already recorded in this incident.", "id")
        answered = statement["responds_to"]
        if answered is not None and answered not in self.statements:
            raise InvalidValue(
                f"No statement {answered} in this incident; responds_to must name one.",
                "responds_to",
            )
        statement = {"id": sid, **statement}
        self._statement_recorded(statement, by)
        return {**statement, "recorded_at": self.recorded_at[sid]}

    def has_statement(self, statement_id: str, fields: Mapping[str, Any]) -> bool:
        """Whether this statement is recorded already with these fields (an upsert skips it).

        Only ``stated_at`` may differ: the same claim sent again later (a dataset's next
        release) is the same statement, first said when it was first recorded. The same id with
        other content is a Conflict: a statement, once made, is not edited (record a
        correction, or withdraw a mis-recorded one).
        """
        if statement_id not in self.statements:
            return False
        given = {"id": statement_id, **values.statement_fields(fields, Findings(True))}
        recorded = self.statements[statement_id]
        same_time = {"stated_at": recorded["stated_at"], "flags": recorded["flags"]}
        if given | same_time != recorded:
            raise Conflict(
                f"Statement {statement_id} is recorded with other content; a statement is "
                "not edited: record a correction, or withdraw it.",
                "id",
            )
        return True

    # A method parameter named ``timestamp`` receives the event's own timestamp (it is not stored
    # twice): the state then says when each statement was recorded, so snapshots carry it too.
    # Callers never pass it; the library always does when the event is applied.
    @event(StatementRecorded)
    def _statement_recorded(
        self, statement: dict[str, Any], by: By = None, timestamp: datetime | None = None
    ) -> None:
        assert timestamp is not None, "the library passes the event's timestamp"
        self.statements[statement["id"]] = statement
        self.recorded_at[statement["id"]] = timestamp

    def withdraw_statement(self, statement_id: str, reason: str, by: By = None) -> None:
        """Editorially withdraw a mis-recorded statement (not a source's own retraction)."""
        why = values.text(reason, "reason", max_length=values.MAX_REASON)
        self._check_can_withdraw(statement_id)
        self._statement_withdrawn(statement_id, why, by)

    def _check_can_withdraw(self, statement_id: str) -> None:
        if statement_id not in self.statements:
            raise StatementNotFound(f"No statement {statement_id} in this incident.", "sid")
        if statement_id in self.withdrawals:
            raise Conflict(f"Statement {statement_id} is already withdrawn.", "sid")

    @event(StatementWithdrawn)
    def _statement_withdrawn(
        self, statement_id: str, reason: str, by: By = None, timestamp: datetime | None = None
    ) -> None:
        assert timestamp is not None, "the library passes the event's timestamp"
        self.withdrawals[statement_id] = {"reason": reason, "withdrawn_at": timestamp}

    def __deepcopy__(self, memo: dict[int, Any]) -> Incident:
        """Copy cheaply: recorded values are never changed in place, only containers grow.

        The application's aggregate cache hands out a deep copy on every load; copying each
        top-level container (not every statement inside it) keeps loads of long-lived incidents
        fast while leaving the cached original untouched by the caller's changes.
        """
        clone = object.__new__(type(self))
        for name, value in self.__dict__.items():
            clone.__dict__[name] = value.copy() if isinstance(value, dict | list) else value
        return clone

    def fields(self) -> dict[str, Any]:
        """The incident's own fields as plain data, with its flags."""
        return {name: getattr(self, name) for name in values.STORED_FIELDS}

    def stated_time(self, version: int) -> str:
        """When the picture of ``version`` was published (canonical UTC text)."""
        assert self.published is not None, "the application fills it for old snapshots"
        return str(next(stated for v, stated in self.published if v == version))


def _stated(value: object) -> str | None:
    """A stated time as given (None: the recorded time will stand for it)."""
    return values.stated_at(value) if value is not None else None


def _with_references(citations: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Citations of the first shape in today's (same keys, same order as new ones)."""
    return [
        {
            "url": c.get("url"),
            "reference": c.get("reference"),
            "outlet": c.get("outlet"),
            "published_at": c.get("published_at"),
        }
        for c in citations or []
    ]


def _with_admin_levels(location: dict[str, Any] | None) -> dict[str, Any] | None:
    """A place of the first shape in today's (same keys, same order as new ones). A precision
    stored as free text before the closed list existed is kept as it was."""
    if location is None:
        return None
    return {key: location.get(key) for key in values.LOCATION_KEYS}


def _with_country_code(location: dict[str, Any] | None) -> dict[str, Any] | None:
    """A place whose country was stored as given (``Ukraine``, ``UA``), with the ISO code and
    the name it was given: what :func:`values.country` makes of new places. A name that no code
    stands for is kept as the name alone."""
    if location is None:
        return None
    given, shown = location.get("country"), location.get("country_name")
    code = countries.code_of(given)
    if shown is None and given:
        shown = countries.name_of(code) if code and countries.is_code(given) else given
    place = {key: location.get(key) for key in values.LOCATION_KEYS}
    return place | {"country": code, "country_name": shown}


def _actor_objects(actors: list[Any] | None) -> list[dict[str, Any]]:
    """Actors stored as side codes, as objects (a code stands for its name and side)."""
    return [
        {"name": a, "side": a, "type": None, "code": None} if isinstance(a, str) else a
        for a in actors or []
    ]

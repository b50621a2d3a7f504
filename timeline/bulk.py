"""The bulk writer: a chunk of upserts through the same domain rules, in a few queries and one save.

What /batch, imports and releases write goes through here. A chunk costs two reads (the external
ids it names, then the incidents they and the items' ids name, replayed in memory), the domain's
own checks and events for each item (:class:`~timeline.domain.Incident`, the application's
revision), and one save: a new incident is created without loading anything.

A refused item is either fatal to the chunk (``on_refused="raise"``: the API's all-or-nothing
/batch, the error naming ``items.N.…``), left out while the rest is written (``"skip"``), or
reported with every other refused item while nothing is written (``"hold"``: an import that
stops at its first bad chunk but still lists every problem in it). An item is refused before it
changes anything, so the others are unaffected; in the rare case where a rule fails only after
an item changed the chunk's state (a statement answering another of the same item), the chunk
is worked out again without it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent

from timeline.domain import Conflict, DomainError, Incident, IncidentNotFound, InvalidValue, values
from timeline.domain.external_id import external_id_stream
from timeline.domain.quality import Findings
from timeline.domain.values import By
from timeline.revisions import IncidentRevisions
from timeline.stream_reads import select_streams
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

# The most items one batch may hold (one transaction; larger loads go in several batches).
MAX_BATCH_ITEMS = 10_000
OnRefused = Literal["raise", "skip", "hold"]
CONTROL = ("id", "statements", "retire", "reason", "stated_at")


@dataclass(frozen=True)
class Refused:
    """An item the rules refused: its place in the chunk, and why (the field named within it)."""

    index: int
    error: DomainError


@dataclass
class Outcome:
    """What a chunk did: each written item's result (in order, refused ones left out), and
    each refused item."""

    written: list[tuple[int, Written]] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)


@dataclass
class _Chunk:
    """A chunk being worked out: its aggregates as they stand, by id."""

    touched: dict[UUID, Incident]
    claims: Claims
    results: list[tuple[int, Incident, str, list[dict[str, Any]]]] = field(default_factory=list)
    # Set once the item being applied starts changing the aggregates (all its checks passed).
    changing: bool = False


class _ChangedThenRefused(Exception):
    """An item was refused after it had changed the chunk: work the chunk out without it."""

    def __init__(self, index: int, error: DomainError) -> None:
        super().__init__(index)
        self.index = index
        self.error = error


@dataclass(frozen=True)
class Options:
    """How a chunk is written: by whom, when its versions were published, and how."""

    by: By = None
    stated_at: object = None
    as_published: bool = False
    listed: bool = False


class BulkWriter:
    """Upserts chunks of items into the application's event store (see the module doc)."""

    def __init__(self, app: IncidentRevisions) -> None:
        self.app = app

    def write(
        self,
        items: Sequence[Mapping[str, Any]],
        options: Options = Options(),
        on_refused: OnRefused = "raise",
        save: bool = True,
    ) -> Outcome:
        """Upsert the items in one transaction (what an item says: the application's
        ``apply_batch``). ``save=False`` checks them only: nothing is written."""
        if len(items) > MAX_BATCH_ITEMS:
            raise InvalidValue(f"At most {MAX_BATCH_ITEMS} items in one batch.", "items")
        for attempt in range(MAX_ATTEMPTS):
            stored = self._prefetch(items)
            refused: dict[int, DomainError] = {}
            while True:
                try:
                    chunk = self._work_out(items, stored, refused, options, on_refused)
                    break
                except _ChangedThenRefused as late:
                    refused[late.index] = late.error
            outcome = Outcome(refused=[Refused(i, e) for i, e in sorted(refused.items())])
            if not save or (refused and on_refused == "hold"):
                return outcome
            try:
                recordings = self.app.save(*chunk.touched.values(), *changed_claims(chunk.claims))
            except IntegrityError:
                back_off(attempt)  # a concurrent writer got there first: reload and retry
                continue
            position = last_position(recordings) if recordings else self.app.head()
            outcome.written = [
                (index, Written(str(incident.id), incident.version, position,
                                incident.modified_on, statements=statements, outcome=outcome_,
                                flags=_codes(incident, statements)))
                for index, incident, outcome_, statements in chunk.results
            ]  # fmt: skip
            return outcome
        raise Conflict("The batch kept colliding with concurrent writers; try again.", None)

    def _prefetch(self, items: Sequence[Mapping[str, Any]]) -> dict[UUID, list[StoredEvent]]:
        """The stored events of every external id the items give and of every incident they
        name, in two reads for the whole chunk (one by one these reads were a third of an
        import's time)."""
        streams: set[UUID] = set()
        named: set[UUID] = set()
        for item in items:
            try:
                incident_id = uuid_of(item.get("id"), "id")
                ids = values.external_ids(item.get("external_ids") or {})
            except DomainError:
                continue  # the item will say what is wrong with it, naming its place
            if incident_id is not None:
                named.add(incident_id)
            streams.update(external_id_stream(*pair) for pair in ids.items())
        found = select_streams(self.app.recorder, streams)
        for stored in found.values():
            claim = self.app._replayed(stored)
            if claim is not None and claim.incident_id is not None:
                named.add(UUID(claim.incident_id))
        # (an id no stream holds is known to be new: an empty list, nothing to look up)
        found.update({stream: [] for stream in streams if stream not in found})
        found.update(select_streams(self.app.recorder, named))
        return found

    def _work_out(
        self,
        items: Sequence[Mapping[str, Any]],
        stored: dict[UUID, list[StoredEvent]],
        refused: dict[int, DomainError],
        options: Options,
        on_refused: OnRefused,
    ) -> _Chunk:
        """Every item not refused yet, applied to the chunk's aggregates (replayed afresh)."""
        snapshot_every = self.app.snapshotting_intervals[Incident]
        chunk = _Chunk({}, {})
        for stream, events in stored.items():
            aggregate = self.app._replayed(events)
            if isinstance(aggregate, Incident):
                # (a long incident is left for its item to load the usual way: from a snapshot)
                if len(events) < snapshot_every:
                    chunk.touched[stream] = aggregate
            else:
                chunk.claims[stream] = aggregate
        for index, item in enumerate(items):
            if index in refused:
                continue
            chunk.changing = False
            try:
                chunk.results.append((index, *self._item(item, chunk, options)))
                continue
            except IncidentNotFound as error:
                refusal: DomainError = InvalidValue(error.message, "id")
            except (InvalidValue, Conflict) as error:
                refusal = error
            if on_refused == "raise":
                raise refusal.within(f"items.{index}")
            if chunk.changing:
                raise _ChangedThenRefused(index, refusal)
            refused[index] = refusal
        return chunk

    def _item(
        self, item: Mapping[str, Any], chunk: _Chunk, options: Options
    ) -> tuple[Incident, str, list[dict[str, Any]]]:
        """One item: its incident (added to the chunk), outcome and new statements."""
        app = self.app
        fields = {k: v for k, v in item.items() if k not in CONTROL}
        stated = item.get("stated_at") or options.stated_at
        incident_id = uuid_of(item.get("id"), "id") or app._named(fields, chunk.claims)
        incident = chunk.touched.get(incident_id) if incident_id is not None else None
        if incident is None and incident_id is not None:
            if incident_id in chunk.claims:  # the stream of a record that is no incident
                raise InvalidValue(f"{incident_id} is not an incident's id.", "id")
            try:
                incident = app._load(incident_id)
            except IncidentNotFound:
                if not fields:  # statements for an incident that is not there
                    raise
        release = values.stated_at(stated) if stated is not None else None
        statements = _statements(item, incident, options.as_published, release)
        if incident is not None:
            outcome = "unchanged"
            if fields or item.get("retire"):
                revision = Revision(
                    fields, item.get("reason") or "updated in a batch", stated,
                    retire=item.get("retire"), revive=True, as_published=options.as_published,
                    pin=options.listed,
                )  # fmt: skip
                checked = app._checked(incident, revision)
                chunk.changing = True
                outcome, _ = app._revise(incident, revision, chunk.claims, options.by, checked)
        else:
            incident = Incident.report(fields, incident_id, options.by, stated,
                                       options.as_published)  # fmt: skip
            retirement = None
            if item.get("retire"):
                retirement = values.retirement(**item["retire"])
                app._check_duplicate_of(incident, retirement["duplicate_of"])
            chunk.changing = True
            app._claim(str(incident.id), {}, incident.external_ids, chunk.claims)
            outcome = "reported"
            if retirement is not None:
                incident.retire(**retirement, by=options.by, stated_at=stated)
        chunk.touched[incident.id] = incident
        recorded = []
        for index, (said, sid) in enumerate(statements):
            try:
                recorded.append(incident.record_statement(said, sid, by=options.by))
                chunk.changing = True
            except (InvalidValue, Conflict) as error:
                error.within(f"statements.{index}")
                raise
        return incident, outcome, recorded


def _statements(
    item: Mapping[str, Any], incident: Incident | None, as_published: bool, release: str | None
) -> list[tuple[dict[str, Any], UUID | None]]:
    """The item's statements not recorded yet, each checked (before anything changes, so a
    refused statement refuses its item cleanly); the same id with other content is a
    Conflict."""
    new = []
    for index, statement in enumerate(item.get("statements") or []):
        try:
            fields, sid = split_id(statement)
            if (
                sid is not None
                and incident is not None
                and incident.has_statement(str(sid), fields)
            ):
                continue
            new.append((values.statement_fields(fields, Findings(as_published, release)), sid))
        except (InvalidValue, Conflict) as error:
            error.within(f"statements.{index}")
            raise
    return new


def _codes(incident: Incident, statements: list[dict[str, Any]]) -> tuple[str, ...]:
    """The flag codes of the incident and of the statements recorded with it, each once."""
    flags = [*incident.flags, *(f for s in statements for f in s.get("flags") or [])]
    return tuple(dict.fromkeys(flag["code"] for flag in flags))

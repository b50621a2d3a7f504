"""The webhook dispatcher: a projection that turns new log entries into delivery records.

For each entry it records one delivery per matching active subscription, in the same transaction
as its position, keyed by (subscription, position): a killed and re-run dispatcher can neither
skip nor duplicate a delivery. Sending happens later, in delivery jobs started after the commit.

It also remembers each incident's kind and each statement's source side, so filters can be
applied to events that do not carry them (a statement's incident kind, a withdrawal's side).

This projection is never rebuilt: replaying the log into it would send everything again. A
consumer that lost data asks for a replay from a position instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from functools import singledispatch
from typing import Any

from eventsourcing.application import Application
from eventsourcing.dispatch import singledispatchmethod

from timeline.domain import Incident
from timeline.domain.subscription import EVENT_TYPES
from timeline.event_log import LogEntry, read_log
from timeline.projections.framework import BatchCursor, Projection, position
from timeline.projections.sql import Cursor, ViewDatabase
from timeline.subscriptions import Target
from timeline.webhooks import delivery_log

DELIVERY_COLUMNS = (
    "subscription_id, position, event_type, incident_id, payload, status, attempts, "
    "next_attempt_at, created_at"
)


def payload_of(entry: LogEntry, event_type: str) -> str:
    """The body every attempt sends: ``{type, timestamp, data}`` with the log position in data."""
    return json.dumps(
        {
            "type": event_type,
            "timestamp": entry.recorded_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "data": {
                "position": entry.position,
                "incident_id": entry.incident_id,
                "version": entry.version,
                **entry.data,
            },
        },
        separators=(",", ":"),
        default=str,
    )


class WebhookDispatcher(Projection):
    """Records deliveries for new events; tells ``on_dispatched`` which subscriptions got some."""

    name = "webhooks"
    version = 1
    # Its own lookups. The delivery log (deliveries, attempts, endpoints) belongs to
    # timeline.webhooks.delivery_log, which changes it only by migrations.
    tables = ("webhook_incident_kinds", "webhook_statement_sides")
    rebuildable = False

    def __init__(
        self,
        targets: Callable[[], list[Target]],
        on_dispatched: Callable[[set[str]], None] = lambda ids: None,
    ) -> None:
        self._targets = targets
        self._on_dispatched = on_dispatched
        self._dispatched: set[str] = set()

    def create_tables(self, cursor: Cursor) -> None:
        """The delivery log, and the lookups that let filters see a statement's incident kind
        and a withdrawal's side."""
        delivery_log.create_tables(cursor)
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS webhook_incident_kinds "
            "(incident_id TEXT PRIMARY KEY, kind TEXT NOT NULL)"
        )
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS webhook_statement_sides (incident_id TEXT NOT NULL, "
            "statement_id TEXT NOT NULL, side TEXT NOT NULL, "
            "PRIMARY KEY (incident_id, statement_id))"
        )

    def apply(self, cursor: Cursor, entries: Sequence[LogEntry]) -> None:
        """Remember kinds and sides; record a delivery for each match after its start."""
        self._active = [t for t in self._targets() if t.status == "active"]
        self._rows: list[tuple[Any, ...]] = []
        super().apply(cursor, entries)
        insert_deliveries(cursor, self._rows, on_conflict="DO NOTHING")
        self._dispatched = {row[0] for row in self._rows}

    @singledispatchmethod
    def handle(self, event: object, entry: LogEntry, cursor: BatchCursor) -> None:
        """Events no subscriber can receive."""

    @handle.register(Incident.IncidentReported)
    @handle.register(Incident.IncidentAmended)
    @handle.register(Incident.IncidentRetired)
    @handle.register(Incident.IncidentRestored)
    @handle.register(Incident.StatementRecorded)
    @handle.register(Incident.StatementWithdrawn)
    def _incident_event(self, event: Any, entry: LogEntry, cursor: BatchCursor) -> None:
        remember(event, entry, cursor)  # first, so the entry's own kind/side are known
        if self._active:
            self._rows += matches(cursor, [entry], self._active, after_start=True)

    def after_commit(self) -> None:
        """Start delivery jobs for the subscriptions that just got deliveries."""
        if self._dispatched:
            dispatched, self._dispatched = self._dispatched, set()
            self._on_dispatched(dispatched)


@singledispatch
def remember(event: object, entry: LogEntry, cursor: BatchCursor) -> None:
    """Keep each incident's current kind and each statement's side, for filtering later ones."""


@remember.register
def _kind_reported(event: Incident.IncidentReported, entry: LogEntry, cursor: BatchCursor) -> None:
    cursor.insert(
        "INSERT INTO webhook_incident_kinds (incident_id, kind) VALUES (?, ?) "
        "ON CONFLICT (incident_id) DO UPDATE SET kind = excluded.kind",
        (entry.incident_id, event.kind),
    )


@remember.register
def _kind_amended(event: Incident.IncidentAmended, entry: LogEntry, cursor: BatchCursor) -> None:
    if "kind" in event.changes:
        cursor.execute(
            "UPDATE webhook_incident_kinds SET kind = ? WHERE incident_id = ?",
            (event.changes["kind"], entry.incident_id),
        )


@remember.register
def _side_recorded(event: Incident.StatementRecorded, entry: LogEntry, cursor: BatchCursor) -> None:
    statement = event.statement
    cursor.insert(
        "INSERT INTO webhook_statement_sides (incident_id, statement_id, side) "
        "VALUES (?, ?, ?) ON CONFLICT (incident_id, statement_id) DO NOTHING",
        (entry.incident_id, statement["id"], statement["source"]["side"]),
    )


def matches(
    cursor: Cursor, entries: Iterable[LogEntry], targets: Sequence[Target], *, after_start: bool
) -> list[tuple[Any, ...]]:
    """Delivery rows for every (target, entry) that matches; ``after_start`` skips older ones."""
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    needs_kind = any(t.kinds for t in targets)
    needs_side = any(t.sides for t in targets)
    rows: list[tuple[Any, ...]] = []
    for entry in entries:
        event_type = EVENT_TYPES.get(type(entry.event))
        if event_type is None:
            continue
        kind = kind_of(entry.event, entry, cursor) if needs_kind else None
        side = side_of(entry.event, entry, cursor) if needs_side else None
        body: str | None = None
        for target in targets:
            if after_start and entry.position <= target.start_position:
                continue
            if target.wants(event_type, kind, side):
                body = body or payload_of(entry, event_type)
                rows.append(
                    (target.id, entry.position, event_type, entry.incident_id, body,
                     "pending", 0, now, now)
                )  # fmt: skip
    return rows


def insert_deliveries(cursor: Cursor, rows: Sequence[tuple[Any, ...]], on_conflict: str) -> None:
    """Insert delivery rows; ``on_conflict`` says what an existing (subscription, position) gets."""
    if rows:
        cursor.executemany(
            f"INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS}) "
            f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            f"ON CONFLICT (subscription_id, position) {on_conflict}",
            rows,
        )


@singledispatch
def kind_of(event: object, entry: LogEntry, cursor: Cursor) -> str | None:
    """The kind of the incident an event belongs to (as last remembered)."""
    cursor.execute(
        "SELECT kind FROM webhook_incident_kinds WHERE incident_id = ?", (entry.incident_id,)
    )
    row = cursor.fetchone()
    return row["kind"] if row else None


@kind_of.register
def _kind_of_report(event: Incident.IncidentReported, entry: LogEntry, cursor: Cursor) -> str:
    return event.kind


@singledispatch
def side_of(event: object, entry: LogEntry, cursor: Cursor) -> str | None:
    """The side of the source behind a statement event (None for incident events)."""
    return None


@side_of.register
def _side_of_statement(
    event: Incident.StatementRecorded, entry: LogEntry, cursor: Cursor
) -> str | None:
    return str(event.statement["source"]["side"])


@side_of.register
def _side_of_withdrawal(
    event: Incident.StatementWithdrawn, entry: LogEntry, cursor: Cursor
) -> str | None:
    cursor.execute(
        "SELECT side FROM webhook_statement_sides WHERE incident_id = ? AND statement_id = ?",
        (entry.incident_id, event.statement_id),
    )
    row = cursor.fetchone()
    return row["side"] if row else None


# A replay request scans at most this many log entries; the answer says where to continue.
REPLAY_SCAN_LIMIT = 10_000


def replay(
    app: Application[Any], db: ViewDatabase, target: Target, after: int
) -> tuple[int, int, bool]:
    """Queue again every event after ``after`` that the subscription's filter takes.

    Goes up to where the dispatcher has reached (later events it dispatches itself), or to the
    subscription's start if the dispatcher is behind that (it will skip those). Existing
    deliveries are made due again (same webhook-id); older events get new ones. Returns how
    many were queued, the position scanned up to, and whether that was the end.
    """
    until = max(position(db, WebhookDispatcher.name), target.start_position)
    reached, queued = after, 0
    while reached < until and reached - after < REPLAY_SCAN_LIMIT:
        limit = min(1000, until - reached, REPLAY_SCAN_LIMIT - (reached - after))
        entries = [e for e in read_log(app, reached, limit) if e.position <= until]
        if not entries:
            break
        with db.transaction() as cursor:
            rows = matches(cursor, entries, [target], after_start=False)
            insert_deliveries(
                cursor,
                rows,
                on_conflict="DO UPDATE SET status = 'pending', "
                "next_attempt_at = excluded.next_attempt_at, lease_until = NULL "
                "WHERE webhook_deliveries.status <> 'sending'",
            )
        queued += len(rows)
        reached = entries[-1].position
    return queued, max(reached, after), reached >= until

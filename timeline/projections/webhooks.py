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
from typing import Any

from eventsourcing.application import Application

from timeline.domain.subscription import EVENT_TYPES
from timeline.log import LogEntry, read_log
from timeline.projections.catchup import position
from timeline.projections.sql import Cursor, ViewDatabase
from timeline.subscriptions import Target

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


class WebhookDispatcher:
    """Records deliveries for new events; tells ``on_dispatched`` which subscriptions got some."""

    name = "webhooks"
    version = 1
    tables: tuple[str, ...] = (
        "webhook_deliveries",
        "webhook_attempts",
        "webhook_endpoints",
        "webhook_incident_kinds",
        "webhook_statement_sides",
    )
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
        """Deliveries with their attempts, each receiver's failure streak and back-off (an
        endpoint on hold gets nothing until its next retry), and the filter lookups."""
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS webhook_deliveries (subscription_id TEXT NOT NULL, "
            "position BIGINT NOT NULL, event_type TEXT NOT NULL, incident_id TEXT NOT NULL, "
            "payload TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL, "
            "next_attempt_at TEXT, lease_until TEXT, created_at TEXT NOT NULL, "
            "PRIMARY KEY (subscription_id, position))"
        )
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS webhook_deliveries_due "
            "ON webhook_deliveries (status, next_attempt_at)"
        )
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS webhook_attempts (subscription_id TEXT NOT NULL, "
            "position BIGINT NOT NULL, attempt INTEGER NOT NULL, attempted_at TEXT NOT NULL, "
            "status_code INTEGER, latency_ms REAL NOT NULL, error TEXT, "
            "PRIMARY KEY (subscription_id, position, attempt))"
        )
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS webhook_endpoints (subscription_id TEXT PRIMARY KEY, "
            "failing_since TEXT, last_success_at TEXT, last_error TEXT, hold_until TEXT)"
        )
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
        self._dispatched = set()
        active = [t for t in self._targets() if t.status == "active"]
        rows: list[tuple[Any, ...]] = []
        for entry in entries:
            remember(cursor, [entry])  # first, so the entry's own kind/side are known
            if active:
                rows += matches(cursor, [entry], active, after_start=True)
        insert_deliveries(cursor, rows, on_conflict="DO NOTHING")
        self._dispatched = {row[0] for row in rows}

    def after_commit(self) -> None:
        """Start delivery jobs for the subscriptions that just got deliveries."""
        if self._dispatched:
            dispatched, self._dispatched = self._dispatched, set()
            self._on_dispatched(dispatched)


def remember(cursor: Cursor, entries: Iterable[LogEntry]) -> None:
    """Keep each incident's current kind and each statement's side, for filtering later ones."""
    for entry in entries:
        if entry.type == "IncidentReported":
            cursor.execute(
                "INSERT INTO webhook_incident_kinds (incident_id, kind) VALUES (?, ?) "
                "ON CONFLICT (incident_id) DO UPDATE SET kind = excluded.kind",
                (entry.incident_id, entry.data["kind"]),
            )
        elif entry.type == "IncidentAmended" and "kind" in entry.data["changes"]:
            cursor.execute(
                "UPDATE webhook_incident_kinds SET kind = ? WHERE incident_id = ?",
                (entry.data["changes"]["kind"], entry.incident_id),
            )
        elif entry.type == "StatementRecorded":
            statement = entry.data["statement"]
            cursor.execute(
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
        event_type = EVENT_TYPES.get(entry.type)
        if event_type is None:
            continue
        kind = _kind(cursor, entry) if needs_kind else None
        side = _side(cursor, entry) if needs_side else None
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


def _kind(cursor: Cursor, entry: LogEntry) -> str | None:
    if entry.type == "IncidentReported":
        return str(entry.data["kind"])
    cursor.execute(
        "SELECT kind FROM webhook_incident_kinds WHERE incident_id = ?", (entry.incident_id,)
    )
    row = cursor.fetchone()
    return row["kind"] if row else None


def _side(cursor: Cursor, entry: LogEntry) -> str | None:
    if entry.type == "StatementRecorded":
        return str(entry.data["statement"]["source"]["side"])
    if entry.type != "StatementWithdrawn":
        return None
    cursor.execute(
        "SELECT side FROM webhook_statement_sides WHERE incident_id = ? AND statement_id = ?",
        (entry.incident_id, entry.data["statement_id"]),
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

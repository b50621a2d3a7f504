"""The `history` read model: one row per version of each incident, with its log position.

The event store can list an incident's events but not where each sits in the global log; this
table keeps version → (position, recorded time, type, one-line summary, which API key wrote it,
and — for the versions that describe the incident — when their source published them) for the
history endpoint.
"""

from __future__ import annotations

from functools import singledispatch
from typing import Any

from eventsourcing.dispatch import singledispatchmethod

from timeline.domain import Incident
from timeline.event_log import LogEntry
from timeline.pictures import PICTURE_EVENTS, stated_of
from timeline.projections.framework import BatchCursor, Projection
from timeline.projections.sql import Cursor

_INSERT = (
    "INSERT INTO incident_versions "
    "(incident_id, version, position, recorded_at, stated_at, type, summary, by_key, by_name) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@singledispatch
def summarise(event: object) -> str:
    """A one-line, human description of what an event did."""
    return type(event).__name__


@summarise.register
def _reported(event: Incident.IncidentReported) -> str:
    return f"Reported {event.kind} incident: {event.title}"


@summarise.register
def _amended(event: Incident.IncidentAmended) -> str:
    if not event.changes:
        return f"Published again unchanged: {event.reason}"
    return f"Amended {', '.join(sorted(event.changes))}: {event.reason}"


@summarise.register
def _retired(event: Incident.IncidentRetired) -> str:
    retirement = event.retirement
    why = retirement["reason"].replace("_", " ")
    if retirement["duplicate_of"]:
        why += f" of {retirement['duplicate_of']}"
    return f"Retired ({why})" + (f": {retirement['note']}" if retirement["note"] else "")


@summarise.register
def _restored(event: Incident.IncidentRestored) -> str:
    return f"Restored: {event.reason}"


@summarise.register
def _recorded(event: Incident.StatementRecorded) -> str:
    statement = event.statement
    source = statement["source"]
    figures = ", ".join(
        f"{f['metric']} {f['qualifier'].replace('_', ' ')} {f['value']}"
        for f in statement["figures"]
    )
    return f"{source['name']} ({source['side']}) {statement['stance']}" + (
        f": {figures}" if figures else ""
    )


@summarise.register
def _withdrawn(event: Incident.StatementWithdrawn) -> str:
    return f"Withdrew statement {event.statement_id}: {event.reason}"


class HistoryProjection(Projection):
    """Keeps `incident_versions` in step with the log."""

    name = "history"
    version = 3  # 3: retirement, restoration, and when each version was published or said
    tables = ("incident_versions",)

    def create_tables(self, cursor: Cursor) -> None:
        """One row per incident version."""
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS incident_versions (incident_id TEXT NOT NULL, "
            "version INTEGER NOT NULL, position BIGINT NOT NULL, recorded_at TEXT NOT NULL, "
            "stated_at TEXT, type TEXT NOT NULL, summary TEXT NOT NULL, by_key TEXT, by_name TEXT, "
            "PRIMARY KEY (incident_id, version))"
        )

    @singledispatchmethod
    def handle(self, event: object, entry: LogEntry, cursor: BatchCursor) -> None:
        """Every incident event is a version."""

    @handle.register(Incident.IncidentReported)
    @handle.register(Incident.IncidentAmended)
    @handle.register(Incident.IncidentRetired)
    @handle.register(Incident.IncidentRestored)
    @handle.register(Incident.StatementRecorded)
    @handle.register(Incident.StatementWithdrawn)
    def _version(self, event: Any, entry: LogEntry, cursor: BatchCursor) -> None:
        by = event.by or {}
        cursor.insert(
            _INSERT,
            (
                entry.incident_id,
                entry.version,
                entry.position,
                entry.recorded,
                _stated(event),
                entry.type,
                summarise(event),
                by.get("key_id"),
                by.get("name"),
            ),
        )


def _stated(event: Any) -> str | None:
    """When the version's source published or said it (None: an editorial withdrawal)."""
    if isinstance(event, PICTURE_EVENTS):
        return stated_of(event)
    if isinstance(event, Incident.StatementRecorded):
        return str(event.statement["stated_at"])
    return None


def version_at(cursor: Cursor, incident_id: str, position: int) -> int | None:
    """The incident's last version logged at or before ``position`` (None: none yet)."""
    cursor.execute(
        "SELECT MAX(version) AS version FROM incident_versions "
        "WHERE incident_id = ? AND position <= ?",
        (incident_id, position),
    )
    row = cursor.fetchone()
    return int(row["version"]) if row and row["version"] is not None else None


def incident_history(
    cursor: Cursor,
    incident_id: str,
    as_of: str | None = None,
    clock: str = "recorded",
    at_position: int | None = None,
) -> list[dict[str, Any]]:
    """Every projected version of an incident, oldest first, with who wrote it (if known):
    all of them, or those recorded by ``as_of``, or (``clock="stated"``) those their sources
    had published or said by then — and the editorial ones (withdrawals) recorded by then."""
    params: list[Any]
    when = {"recorded": "recorded_at", "stated": "COALESCE(stated_at, recorded_at)"}[clock]
    cutoff, params = "", []
    if at_position is not None:
        cutoff, params = " AND position <= ?", [at_position]
    elif as_of is not None:
        cutoff, params = f" AND {when} <= ?", [as_of]
    cursor.execute(
        "SELECT version, position, recorded_at, stated_at, type, summary, by_key, by_name "
        f"FROM incident_versions WHERE incident_id = ?{cutoff} ORDER BY version",
        (incident_id, *params),
    )
    rows = cursor.fetchall()
    for row in rows:
        key, name = row.pop("by_key"), row.pop("by_name")
        row["by"] = {"key_id": key, "name": name} if key else None
    return rows

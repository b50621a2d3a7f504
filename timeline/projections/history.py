"""The `history` read model: one row per version of each incident, with its log position.

The event store can list an incident's events but not where each sits in the global log; this
table keeps version → (position, recorded time, type, one-line summary, and which API key wrote
it) for the history endpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from timeline.log import LogEntry
from timeline.projections.sql import Cursor


def summarise(entry: LogEntry) -> str:
    """A one-line, human description of what an event did."""
    data = entry.data
    if entry.type == "IncidentReported":
        return f"Reported {data['kind']} incident: {data['title']}"
    if entry.type == "IncidentAmended":
        return f"Amended {', '.join(sorted(data['changes']))}: {data['reason']}"
    if entry.type == "StatementRecorded":
        statement = data["statement"]
        source = statement["source"]
        figures = ", ".join(
            f"{f['metric']} {f['qualifier'].replace('_', ' ')} {f['value']}"
            for f in statement["figures"]
        )
        return f"{source['name']} ({source['side']}) {statement['stance']}" + (
            f": {figures}" if figures else ""
        )
    if entry.type == "StatementWithdrawn":
        return f"Withdrew statement {data['statement_id']}: {data['reason']}"
    return entry.type


class HistoryProjection:
    """Keeps `incident_versions` in step with the log."""

    name = "history"
    version = 2
    tables: tuple[str, ...] = ("incident_versions",)

    def create_tables(self, cursor: Cursor) -> None:
        """One row per incident version."""
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS incident_versions (incident_id TEXT NOT NULL, "
            "version INTEGER NOT NULL, position BIGINT NOT NULL, recorded_at TEXT NOT NULL, "
            "type TEXT NOT NULL, summary TEXT NOT NULL, by_key TEXT, by_name TEXT, "
            "PRIMARY KEY (incident_id, version))"
        )

    def apply(self, cursor: Cursor, entries: Sequence[LogEntry]) -> None:
        """Insert a row per event."""
        cursor.executemany(
            "INSERT INTO incident_versions "
            "(incident_id, version, position, recorded_at, type, summary, by_key, by_name) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    e.incident_id,
                    e.version,
                    e.position,
                    e.recorded_at.isoformat(timespec="microseconds"),
                    e.type,
                    summarise(e),
                    (e.data.get("by") or {}).get("key_id"),
                    (e.data.get("by") or {}).get("name"),
                )
                for e in entries
            ],
        )


def incident_history(cursor: Cursor, incident_id: str) -> list[dict[str, Any]]:
    """Every projected version of an incident, oldest first, with who wrote it (if known)."""
    cursor.execute(
        "SELECT version, position, recorded_at, type, summary, by_key, by_name "
        "FROM incident_versions WHERE incident_id = ? ORDER BY version",
        (incident_id,),
    )
    rows = cursor.fetchall()
    for row in rows:
        key, name = row.pop("by_key"), row.pop("by_name")
        row["by"] = {"key_id": key, "name": name} if key else None
    return rows

"""The `ceasefires` read model: each ceasefire's window against the fighting reported inside it.

The tables keep every incident's time, kind, place and parties (bitemporal: a row per version,
valid from the position that made it until the one that replaced it) and every statement's
source, stance and answer. :func:`query_ceasefires` then decides, as of any time:

- a strike, shelling, battle or violation *falls in* a ceasefire when its time overlaps the
  window (both ends inclusive; an open-ended ceasefire runs on) and, when the ceasefire names a
  country, it happened in that country;
- such an incident is *disputed* when it has reports and every one of them is answered by a
  denial from a side the incident names among its actors (the accused); otherwise *reported*;
- the ceasefire *held* with no incident inside it, is *disputed* when every incident inside is,
  and was *violated* otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from timeline.log import LogEntry
from timeline.projections.sql import Cursor

FIGHTING = ("strike", "shelling", "battle", "violation")
DECLARING = ("announcement", "claim", "confirmation")
INCIDENT_COLUMNS = ("incident_id", "title", "kind", "start_at", "end_at", "country", "actors")


class CeasefiresProjection:
    """Keeps `ceasefire_incidents` and `ceasefire_statements` in step with the log."""

    name = "ceasefires"
    version = 2
    tables: tuple[str, ...] = ("ceasefire_incidents", "ceasefire_statements")

    def create_tables(self, cursor: Cursor) -> None:
        """Incident versions and statements."""
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS ceasefire_incidents (incident_id TEXT NOT NULL, "
            "title TEXT NOT NULL, kind TEXT NOT NULL, start_at TEXT NOT NULL, end_at TEXT, "
            "country TEXT, actors TEXT NOT NULL, sys_from TEXT NOT NULL, sys_to TEXT)"
        )
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS ceasefire_incidents_kind "
            "ON ceasefire_incidents (kind, start_at)"
        )
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS ceasefire_incidents_current "
            "ON ceasefire_incidents (incident_id) WHERE sys_to IS NULL"
        )
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS ceasefire_statements (statement_id TEXT NOT NULL, "
            "incident_id TEXT NOT NULL, source_name TEXT NOT NULL, source_side TEXT NOT NULL, "
            "source_type TEXT NOT NULL, stance TEXT NOT NULL, responds_to TEXT, "
            "stated_at TEXT NOT NULL, recorded_at TEXT NOT NULL, withdrawn_at TEXT, "
            "PRIMARY KEY (incident_id, statement_id))"
        )

    def apply(self, cursor: Cursor, entries: Sequence[LogEntry]) -> None:
        """Open incident versions, record statements, stamp withdrawals."""
        for entry in entries:
            data = entry.data
            at = entry.recorded_at.isoformat(timespec="microseconds")
            if entry.type == "IncidentReported":
                _open(cursor, entry.incident_id, data, at)
            elif entry.type == "IncidentAmended":
                cursor.execute(
                    f"SELECT {', '.join(INCIDENT_COLUMNS)} FROM ceasefire_incidents "
                    "WHERE incident_id = ? AND sys_to IS NULL",
                    (entry.incident_id,),
                )
                current = cursor.fetchone()
                assert current is not None, f"no incident {entry.incident_id} to amend"
                cursor.execute(
                    "UPDATE ceasefire_incidents SET sys_to = ? "
                    "WHERE incident_id = ? AND sys_to IS NULL",
                    (at, entry.incident_id),
                )
                _open(cursor, entry.incident_id, _fields(current) | data["changes"], at)
            elif entry.type == "StatementRecorded":
                s = data["statement"]
                source = s["source"]
                cursor.execute(
                    "INSERT INTO ceasefire_statements (statement_id, incident_id, source_name, "
                    "source_side, source_type, stance, responds_to, stated_at, recorded_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (s["id"], entry.incident_id, source["name"], source["side"], source["type"],
                     s["stance"], s["responds_to"], s["stated_at"], at),
                )  # fmt: skip
            elif entry.type == "StatementWithdrawn":
                cursor.execute(
                    "UPDATE ceasefire_statements SET withdrawn_at = ? "
                    "WHERE incident_id = ? AND statement_id = ?",
                    (at, entry.incident_id, data["statement_id"]),
                )


def _open(cursor: Cursor, incident_id: str, fields: dict[str, Any], at: str) -> None:
    location = fields.get("location") or {}
    cursor.execute(
        "INSERT INTO ceasefire_incidents (incident_id, title, kind, start_at, end_at, country, "
        "actors, sys_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (incident_id, fields["title"], fields["kind"], fields["occurred"]["start"],
         fields["occurred"].get("end"), location.get("country"),
         json.dumps(fields.get("actors") or []), at),
    )  # fmt: skip


def _fields(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": row["title"],
        "kind": row["kind"],
        "occurred": {"start": row["start_at"], "end": row["end_at"]},
        "location": {"country": row["country"]},
        "actors": json.loads(row["actors"]),
    }


@dataclass(frozen=True)
class CeasefireFilter:
    """Ceasefires whose window overlaps [start, end], binding a party, as known at as_of."""

    start: str | None = None
    end: str | None = None
    party: str | None = None
    as_of: str | None = None


def _live(alias: str, column_from: str, column_to: str, as_of: str | None) -> tuple[str, list[str]]:
    if as_of is None:
        return f"{alias}.{column_to} IS NULL", []
    return (
        f"{alias}.{column_from} <= ? AND ({alias}.{column_to} IS NULL OR {alias}.{column_to} > ?)",
        [as_of, as_of],
    )


def _overlaps(start: str, end: str | None, other_start: str, other_end: str | None) -> bool:
    """Closed intervals; an open end runs on for ever."""
    return (end is None or other_start <= end) and (other_end or other_start) >= start


def query_ceasefires(cursor: Cursor, where: CeasefireFilter) -> list[dict[str, Any]]:
    """Every matching ceasefire with the fighting inside its window and its status."""
    live_i, params_i = _live("i", "sys_from", "sys_to", where.as_of)
    cursor.execute(
        f"SELECT {', '.join('i.' + c for c in INCIDENT_COLUMNS)} FROM ceasefire_incidents i "
        f"WHERE {live_i} AND i.kind IN ('ceasefire', {', '.join('?' for _ in FIGHTING)}) "
        "ORDER BY i.start_at, i.incident_id",
        [*params_i, *FIGHTING],
    )
    rows = cursor.fetchall()
    ceasefires = [r for r in rows if r["kind"] == "ceasefire" and _wanted(r, where)]
    inside = {
        c["incident_id"]: [
            r
            for r in rows
            if r["kind"] != "ceasefire"
            and _overlaps(c["start_at"], c["end_at"], r["start_at"], r["end_at"])
            and (c["country"] is None or r["country"] == c["country"])
        ]
        for c in ceasefires
    }
    wanted = {c["incident_id"] for c in ceasefires}
    wanted.update(r["incident_id"] for rs in inside.values() for r in rs)
    statements = _statements(cursor, sorted(wanted), where.as_of)
    result = []
    for ceasefire in ceasefires:
        violations = [
            _violation(r, statements.get(r["incident_id"], []))
            for r in inside[ceasefire["incident_id"]]
        ]
        status = "held"
        if violations:
            disputed = all(v["status"] == "disputed" for v in violations)
            status = "disputed" if disputed else "violated"
        result.append(
            {
                "id": ceasefire["incident_id"],
                "title": ceasefire["title"],
                "window": {"start": ceasefire["start_at"], "end": ceasefire["end_at"]},
                "scope": ceasefire["country"],
                "parties": json.loads(ceasefire["actors"]),
                "declared_by": [
                    _source(s)
                    for s in statements.get(ceasefire["incident_id"], [])
                    if s["stance"] in DECLARING
                ],
                "violations": violations,
                "status": status,
            }
        )
    return result


def _statements(
    cursor: Cursor, incident_ids: list[str], as_of: str | None
) -> dict[str, list[dict[str, Any]]]:
    """Live statements of the given incidents, by incident, in the order they were said."""
    live_s, params_s = _live("s", "recorded_at", "withdrawn_at", as_of)
    found: dict[str, list[dict[str, Any]]] = {}
    for start in range(0, len(incident_ids), 500):  # keep each IN list a reasonable size
        chunk = incident_ids[start : start + 500]
        cursor.execute(
            "SELECT s.statement_id, s.incident_id, s.source_name, s.source_side, "
            "s.source_type, s.stance, s.responds_to, s.stated_at FROM ceasefire_statements s "
            f"WHERE {live_s} AND s.incident_id IN ({', '.join('?' for _ in chunk)}) "
            "ORDER BY s.stated_at, s.statement_id",
            [*params_s, *chunk],
        )
        for row in cursor.fetchall():
            found.setdefault(row["incident_id"], []).append(row)
    return found


def _wanted(ceasefire: dict[str, Any], where: CeasefireFilter) -> bool:
    if where.party is not None and where.party not in json.loads(ceasefire["actors"]):
        return False
    if where.start is None and where.end is None:
        return True
    return _overlaps(
        where.start or "", where.end, ceasefire["start_at"], ceasefire["end_at"] or "9999"
    )


def _source(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "statement_id": row["statement_id"],
        "name": row["source_name"],
        "side": row["source_side"],
        "type": row["source_type"],
        "stance": row["stance"],
        "stated_at": row["stated_at"],
    }


def _violation(incident: dict[str, Any], statements: list[dict[str, Any]]) -> dict[str, Any]:
    accused = set(json.loads(incident["actors"]))
    denials = [s for s in statements if s["stance"] == "denial"]
    reports = [s for s in statements if s["stance"] != "denial"]
    denied_by_accused = {
        s["responds_to"] for s in denials if s["source_side"] in accused and s["responds_to"]
    }
    disputed = bool(reports) and all(r["statement_id"] in denied_by_accused for r in reports)
    return {
        "id": incident["incident_id"],
        "title": incident["title"],
        "kind": incident["kind"],
        "start": incident["start_at"],
        "end": incident["end_at"],
        "country": incident["country"],
        "accused": sorted(accused),
        "reported_by": [_source(s) for s in reports],
        "denied_by": [_source(s) for s in denials],
        "status": "disputed" if disputed else "reported",
    }

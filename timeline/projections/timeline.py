"""The `timeline` read model: one row per incident and per statement, bitemporal.

Each row version is valid in system time from the log position (and time) that made it until the
one that replaced or withdrew it (``sys_to``; NULL while current). An amendment closes every
current row of its incident and opens copies with the new incident fields, so a query "as of T"
sees the incident exactly as it was described at T. Rows sort by ``at``: when the incident
occurred, or when the statement was made.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from timeline.log import LogEntry
from timeline.projections.sql import Cursor, Row

HEAD_COLUMNS = (
    "item_id",
    "sys_from_pos",
    "sys_from",
    "sys_to_pos",
    "sys_to",
    "item_type",
    "incident_id",
    "at",
    "recorded_at",
)
INCIDENT_COLUMNS = (
    "kind",
    "title",
    "occurred_start",
    "occurred_end",
    "occurred_precision",
    "location",
    "country",
    "lat",
    "lon",
    "actors",
    "tags",
)
STATEMENT_COLUMNS = (
    "source_name",
    "source_side",
    "source_type",
    "stance",
    "responds_to",
    "text",
    "stated_at",
    "figures",
    "citations",
)
COLUMNS = HEAD_COLUMNS + INCIDENT_COLUMNS + STATEMENT_COLUMNS
NO_STATEMENT = (None,) * len(STATEMENT_COLUMNS)
_INSERT = (
    f"INSERT INTO timeline_items ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
)


def _utc(entry: LogEntry) -> str:
    """When the event was recorded, as the canonical UTC text the domain uses."""
    return entry.recorded_at.isoformat(timespec="microseconds")


def _incident_columns(fields: dict[str, Any]) -> tuple[Any, ...]:
    """An incident's fields as the values of INCIDENT_COLUMNS, in order."""
    location = fields.get("location") or {}
    occurred = fields["occurred"]
    return (
        fields["kind"],
        fields["title"],
        occurred["start"],
        occurred.get("end"),
        occurred.get("precision"),
        json.dumps(location) if location else None,
        location.get("country"),
        location.get("lat"),
        location.get("lon"),
        json.dumps(fields.get("actors") or []),
        json.dumps(fields.get("tags") or []),
    )


def _incident_fields(columns: Row) -> dict[str, Any]:
    """The inverse of :func:`_incident_columns`: stored columns back to the incident's fields."""
    return {
        "title": columns["title"],
        "kind": columns["kind"],
        "occurred": {
            "start": columns["occurred_start"],
            "end": columns["occurred_end"],
            "precision": columns["occurred_precision"],
        },
        "location": json.loads(columns["location"]) if columns["location"] else None,
        "actors": json.loads(columns["actors"]),
        "tags": json.loads(columns["tags"]),
    }


class TimelineProjection:
    """Keeps `timeline_items` in step with the log."""

    name = "timeline"
    version = 2
    tables: tuple[str, ...] = ("timeline_items",)

    def create_tables(self, cursor: Cursor) -> None:
        """Create the table and the indexes its queries use."""
        postgres = cursor.dialect == "postgres"
        real = "DOUBLE PRECISION" if postgres else "REAL"
        # Keys compare as bytes on both backends (SQLite's default); a PostgreSQL database
        # with a linguistic collation would otherwise order ids and times differently.
        key = 'TEXT COLLATE "C"' if postgres else "TEXT"
        cursor.execute(
            f"""CREATE TABLE IF NOT EXISTS timeline_items (
                item_id {key} NOT NULL, sys_from_pos BIGINT NOT NULL, sys_from {key} NOT NULL,
                sys_to_pos BIGINT, sys_to {key}, item_type TEXT NOT NULL,
                incident_id {key} NOT NULL,
                kind TEXT NOT NULL, title TEXT NOT NULL, occurred_start TEXT NOT NULL,
                occurred_end TEXT, occurred_precision TEXT, location TEXT, country TEXT,
                lat {real}, lon {real}, actors TEXT NOT NULL, tags TEXT NOT NULL,
                at {key} NOT NULL, recorded_at TEXT NOT NULL,
                source_name TEXT, source_side TEXT, source_type TEXT, stance TEXT,
                responds_to TEXT, text TEXT, stated_at TEXT, figures TEXT, citations TEXT)"""
        )
        # Only two indexes, neither keyed by a random id first: rows arrive roughly in time
        # order, so (at, item_id) grows at its end, and an incident's current rows cluster.
        # (at, item_id) serves the current timeline and "as of" reads, which walk it in order
        # and stop at the page limit; the partial index finds an incident's current rows for
        # amendments, withdrawals and the incident filter. A random-keyed primary key made
        # catch-up three times slower at 100,000 rows (bench/RESULTS.md).
        cursor.execute("CREATE INDEX IF NOT EXISTS timeline_order ON timeline_items (at, item_id)")
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS timeline_incident ON timeline_items (incident_id) "
            "WHERE sys_to_pos IS NULL"
        )

    def apply(self, cursor: Cursor, entries: Sequence[LogEntry]) -> None:
        """Insert rows for new incidents and statements; close and reopen rows on amendments."""
        batch = _Batch(cursor)
        for entry in entries:
            if entry.type == "IncidentReported":
                batch.report(entry)
            elif entry.type == "StatementRecorded":
                batch.record(entry)
            elif entry.type == "IncidentAmended":
                batch.amend(entry)
            elif entry.type == "StatementWithdrawn":
                batch.withdraw(entry)
        batch.flush()


class _Batch:
    """Builds row tuples and buffers them, so a batch of appends costs one executemany."""

    def __init__(self, cursor: Cursor) -> None:
        self.cursor = cursor
        self.pending: list[tuple[Any, ...]] = []
        self.incidents: dict[str, tuple[Any, ...]] = {}

    def flush(self) -> None:
        if self.pending:
            self.cursor.executemany(_INSERT, self.pending)
            self.pending = []

    def _incident(self, incident_id: str) -> tuple[Any, ...]:
        if incident_id not in self.incidents:
            self.cursor.execute(
                f"SELECT {', '.join(INCIDENT_COLUMNS)} FROM timeline_items "
                "WHERE incident_id = ? AND sys_to_pos IS NULL AND item_type = 'incident'",
                (incident_id,),
            )
            row = self.cursor.fetchone()
            if row is None:
                raise LookupError(f"timeline has no incident {incident_id} to attach to")
            self.incidents[incident_id] = tuple(row[c] for c in INCIDENT_COLUMNS)
        return self.incidents[incident_id]

    def report(self, entry: LogEntry) -> None:
        incident = _incident_columns(entry.data)
        self.incidents[entry.incident_id] = incident
        now = _utc(entry)
        head = (entry.incident_id, entry.position, now, None, None, "incident")
        self.pending.append((*head, entry.incident_id, incident[2], now, *incident, *NO_STATEMENT))

    def record(self, entry: LogEntry) -> None:
        statement = entry.data["statement"]
        source = statement["source"]
        now = _utc(entry)
        self.pending.append(
            (
                statement["id"],
                entry.position,
                now,
                None,
                None,
                "statement",
                entry.incident_id,
                statement["stated_at"],
                now,
                *self._incident(entry.incident_id),
                source["name"],
                source["side"],
                source["type"],
                statement["stance"],
                statement["responds_to"],
                statement["text"],
                statement["stated_at"],
                json.dumps(statement["figures"]),
                json.dumps(statement["citations"]),
            )
        )

    def _close(self, where: str, params: tuple[Any, ...], entry: LogEntry) -> list[Row]:
        self.flush()
        self.cursor.execute(
            f"SELECT {', '.join(COLUMNS)} FROM timeline_items WHERE {where} AND sys_to_pos IS NULL",
            params,
        )
        rows = self.cursor.fetchall()
        self.cursor.execute(
            f"UPDATE timeline_items SET sys_to_pos = ?, sys_to = ? "
            f"WHERE {where} AND sys_to_pos IS NULL",
            (entry.position, _utc(entry), *params),
        )
        return rows

    def amend(self, entry: LogEntry) -> None:
        current = dict(zip(INCIDENT_COLUMNS, self._incident(entry.incident_id), strict=True))
        incident = _incident_columns(_incident_fields(current) | entry.data["changes"])
        self.incidents[entry.incident_id] = incident
        reopened = dict(zip(INCIDENT_COLUMNS, incident, strict=True))
        reopened |= {"sys_from_pos": entry.position, "sys_from": _utc(entry)}
        reopened |= {"sys_to_pos": None, "sys_to": None}
        for row in self._close("incident_id = ?", (entry.incident_id,), entry):
            row.update(reopened)
            if row["item_type"] == "incident":
                row["at"] = row["occurred_start"]
            self.pending.append(tuple(row[c] for c in COLUMNS))

    def withdraw(self, entry: LogEntry) -> None:
        statement_id = entry.data["statement_id"]
        self._close(
            "incident_id = ? AND item_id = ? AND item_type = 'statement'",
            (entry.incident_id, statement_id),
            entry,
        )


@dataclass(frozen=True)
class TimelineFilter:
    """What a dashboard may ask of the timeline; all optional, combined with AND."""

    start: str | None = None
    end: str | None = None
    kind: Sequence[str] = ()
    side: Sequence[str] = ()
    source: str | None = None
    stance: Sequence[str] = ()
    incident: str | None = None
    item_type: str | None = None
    q: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    as_of: str | None = None


def _in(column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
    return f"{column} IN ({', '.join('?' for _ in values)})", list(values)


def query_timeline(
    cursor: Cursor, where: TimelineFilter, after: tuple[str, str] | None, limit: int
) -> list[dict[str, Any]]:
    """Rows matching the filter in (at, id) order, after a cursor key, at most ``limit``."""
    clauses: list[str] = []
    params: list[Any] = []
    if where.as_of is not None:
        clauses.append("sys_from <= ? AND (sys_to IS NULL OR sys_to > ?)")
        params += [where.as_of, where.as_of]
    else:
        clauses.append("sys_to_pos IS NULL")
    simple = {"at >= ?": where.start, "at <= ?": where.end}
    simple |= {"source_name = ?": where.source, "incident_id = ?": where.incident}
    simple |= {"item_type = ?": where.item_type}
    for clause, value in simple.items():
        if value is not None:
            clauses.append(clause)
            params.append(value)
    for column, values in (
        ("kind", where.kind),
        ("source_side", where.side),
        ("stance", where.stance),
    ):
        if values:
            clause, more = _in(column, values)
            clauses.append(clause)
            params += more
    if where.q:
        pattern = (
            "%"
            + where.q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            + "%"
        )
        clauses.append(
            "(lower(title) LIKE ? ESCAPE '\\' OR lower(COALESCE(text, '')) LIKE ? ESCAPE '\\')"
        )
        params += [pattern, pattern]
    if where.bbox is not None:
        min_lon, min_lat, max_lon, max_lat = where.bbox
        clauses.append("lat BETWEEN ? AND ? AND lon BETWEEN ? AND ?")
        params += [min_lat, max_lat, min_lon, max_lon]
    if after is not None:
        clauses.append("(at > ? OR (at = ? AND item_id > ?))")
        params += [after[0], after[0], after[1]]
    sql = (
        f"SELECT {', '.join(COLUMNS)} FROM timeline_items WHERE {' AND '.join(clauses)} "
        "ORDER BY at, item_id LIMIT ?"
    )
    cursor.execute(sql, (*params, limit))
    return [_item(row) for row in cursor.fetchall()]


def _item(row: Row) -> dict[str, Any]:
    """A row as the API's timeline item: incident context, plus the statement when it is one."""
    item: dict[str, Any] = {
        "type": row["item_type"],
        "id": row["item_id"],
        "at": row["at"],
        "recorded_at": row["recorded_at"],
        "position": row["sys_from_pos"],
        "incident": {"id": row["incident_id"], **_incident_fields(row)},
    }
    if row["item_type"] == "statement":
        item["statement"] = {
            "id": row["item_id"],
            "source": {
                "name": row["source_name"],
                "side": row["source_side"],
                "type": row["source_type"],
            },
            "stance": row["stance"],
            "responds_to": row["responds_to"],
            "text": row["text"],
            "stated_at": row["stated_at"],
            "figures": json.loads(row["figures"]),
            "citations": json.loads(row["citations"]),
        }
    return item

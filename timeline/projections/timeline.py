"""The `timeline` read model: incidents and statements in time order, bitemporal, ready to serve.

Two tables, each row valid in system time from the log position (and time) that made it until
the one that replaced or withdrew it (``sys_to``; NULL while current):

- ``timeline_incidents``: one row per version of each incident — the incident as the API shows
  it (``incident``, JSON text) and the columns filters use (kind, title, place);
- ``timeline_items``: one row per statement, and one per version of each incident's own item
  (its ``at`` is when the incident occurred, which an amendment may change), sorted by ``at``.

A page joins each item to the incident version valid at the same moment, so "as of T" shows an
incident exactly as it was described at T, and an amendment writes two rows however many
statements the incident has. Items are stored as JSON text and joined as text: a page is sent
without re-shaping any row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from eventsourcing.dispatch import singledispatchmethod

from timeline.domain import Incident
from timeline.event_log import LogEntry
from timeline.projections import jsontext as json
from timeline.projections.framework import BatchCursor, Projection
from timeline.projections.sql import Cursor, Row

_INCIDENT = (
    "INSERT INTO timeline_incidents (incident_id, sys_from_pos, sys_from, kind, title, country, "
    "lat, lon, incident) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_ITEM = (
    "INSERT INTO timeline_items (item_id, sys_from_pos, sys_from, item_type, incident_id, at, "
    "recorded_at, source_name, source_side, stance, text, statement) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _incident(incident_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """An incident's fields in the API's shape."""
    occurred = fields["occurred"]
    return {
        "id": incident_id,
        "title": fields["title"],
        "kind": fields["kind"],
        "occurred": {
            "start": occurred["start"],
            "end": occurred.get("end"),
            "precision": occurred.get("precision"),
        },
        "location": fields.get("location"),
        "actors": fields.get("actors") or [],
        "tags": fields.get("tags") or [],
        "properties": fields.get("properties") or {},
        "external_ids": fields.get("external_ids") or {},
    }


class TimelineProjection(Projection):
    """Keeps `timeline_incidents` and `timeline_items` in step with the log."""

    name = "timeline"
    # 5: incidents carry properties, places admin2/admin3; 6: actors are objects; 7: external ids
    version = 7
    tables = ("timeline_items", "timeline_incidents")

    def create_tables(self, cursor: Cursor) -> None:
        """Create the tables and the indexes their queries use."""
        postgres = cursor.dialect == "postgres"
        real = "DOUBLE PRECISION" if postgres else "REAL"
        # Keys compare as bytes on both backends (SQLite's default); a PostgreSQL database
        # with a linguistic collation would otherwise order ids and times differently.
        key = 'TEXT COLLATE "C"' if postgres else "TEXT"
        cursor.execute(
            f"""CREATE TABLE IF NOT EXISTS timeline_incidents (
                incident_id {key} NOT NULL, sys_from_pos BIGINT NOT NULL,
                sys_from {key} NOT NULL, sys_to_pos BIGINT, sys_to {key},
                kind TEXT NOT NULL, title TEXT NOT NULL, country TEXT, lat {real}, lon {real},
                incident TEXT NOT NULL)"""
        )
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS timeline_incident_versions "
            "ON timeline_incidents (incident_id, sys_from)"
        )
        cursor.execute(
            f"""CREATE TABLE IF NOT EXISTS timeline_items (
                item_id {key} NOT NULL, sys_from_pos BIGINT NOT NULL, sys_from {key} NOT NULL,
                sys_to_pos BIGINT, sys_to {key}, item_type TEXT NOT NULL,
                incident_id {key} NOT NULL, at {key} NOT NULL, recorded_at TEXT NOT NULL,
                source_name TEXT, source_side TEXT, stance TEXT, text TEXT, statement TEXT)"""
        )
        # No index keyed by a random id first on the items: rows arrive roughly in time order,
        # so (at, item_id) grows at its end. It serves the current timeline and "as of"
        # reads, which walk it in order and stop at the page limit; the partial index finds
        # an incident's current rows for amendments, withdrawals and the incident filter. A
        # random-keyed primary key made catch-up three times slower at 100,000 rows.
        cursor.execute("CREATE INDEX IF NOT EXISTS timeline_order ON timeline_items (at, item_id)")
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS timeline_incident ON timeline_items (incident_id) "
            "WHERE sys_to_pos IS NULL"
        )

    def apply(self, cursor: Cursor, entries: Sequence[LogEntry]) -> None:
        """Apply a batch, remembering each touched incident's current fields meanwhile."""
        self._incidents: dict[str, dict[str, Any]] = {}
        super().apply(cursor, entries)

    def _current(self, cursor: BatchCursor, incident_id: str) -> dict[str, Any]:
        """The incident's fields as its current version shows them."""
        if incident_id not in self._incidents:
            cursor.execute(
                "SELECT incident FROM timeline_incidents "
                "WHERE incident_id = ? AND sys_to_pos IS NULL",
                (incident_id,),
            )
            row = cursor.fetchone()
            if row is None:
                raise LookupError(f"timeline has no incident {incident_id} to attach to")
            self._incidents[incident_id] = json.loads(row["incident"])
        return self._incidents[incident_id]

    def _version(
        self, cursor: BatchCursor, incident: dict[str, Any], entry: LogEntry, reported_at: str
    ) -> None:
        """A new version of the incident, and of its own item on the timeline."""
        self._incidents[incident["id"]] = incident
        location = incident["location"] or {}
        at = incident["occurred"]["start"]
        cursor.insert(
            _INCIDENT,
            (incident["id"], entry.position, entry.recorded, incident["kind"], incident["title"],
             location.get("country"), location.get("lat"), location.get("lon"),
             json.dumps(incident)),
        )  # fmt: skip
        item = (incident["id"], entry.position, entry.recorded, "incident", incident["id"], at)
        cursor.insert(_ITEM, (*item, reported_at, *(None,) * 5))

    @singledispatchmethod
    def handle(self, event: object, entry: LogEntry, cursor: BatchCursor) -> None:
        """Events that do not change the timeline."""

    @handle.register
    def _reported(
        self, event: Incident.IncidentReported, entry: LogEntry, cursor: BatchCursor
    ) -> None:
        self._version(cursor, _incident(entry.incident_id, entry.data), entry, entry.recorded)

    @handle.register
    def _recorded(
        self, event: Incident.StatementRecorded, entry: LogEntry, cursor: BatchCursor
    ) -> None:
        s = event.statement
        source = s["source"]
        statement = {
            "id": s["id"],
            "source": source,
            "stance": s["stance"],
            "responds_to": s["responds_to"],
            "text": s["text"],
            "stated_at": s["stated_at"],
            "figures": s["figures"],
            "citations": s["citations"],
        }
        cursor.insert(
            _ITEM,
            (s["id"], entry.position, entry.recorded, "statement", entry.incident_id,
             s["stated_at"], entry.recorded, source["name"], source["side"], s["stance"],
             s["text"], json.dumps(statement)),
        )  # fmt: skip

    @handle.register
    def _amended(
        self, event: Incident.IncidentAmended, entry: LogEntry, cursor: BatchCursor
    ) -> None:
        incident_id = entry.incident_id
        incident = _incident(incident_id, self._current(cursor, incident_id) | event.changes)
        cursor.execute(
            "SELECT recorded_at FROM timeline_items WHERE incident_id = ? "
            "AND sys_to_pos IS NULL AND item_type = 'incident'",
            (incident_id,),
        )
        (reported,) = cursor.fetchall()
        for table, more in (("timeline_incidents", ""), ("timeline_items", " AND item_type = ?")):
            cursor.execute(
                f"UPDATE {table} SET sys_to_pos = ?, sys_to = ? "
                f"WHERE incident_id = ? AND sys_to_pos IS NULL{more}",
                (entry.position, entry.recorded, incident_id, *(("incident",) if more else ())),
            )
        self._version(cursor, incident, entry, reported["recorded_at"])

    @handle.register
    def _withdrawn(
        self, event: Incident.StatementWithdrawn, entry: LogEntry, cursor: BatchCursor
    ) -> None:
        cursor.execute(
            "UPDATE timeline_items SET sys_to_pos = ?, sys_to = ? WHERE incident_id = ? "
            "AND item_id = ? AND item_type = 'statement' AND sys_to_pos IS NULL",
            (entry.position, entry.recorded, entry.incident_id, event.statement_id),
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


def _live(alias: str, as_of: str | None) -> tuple[str, list[Any]]:
    if as_of is None:
        return f"{alias}.sys_to_pos IS NULL", []
    return f"{alias}.sys_from <= ? AND ({alias}.sys_to IS NULL OR {alias}.sys_to > ?)", [
        as_of,
        as_of,
    ]


def query_timeline(
    cursor: Cursor, where: TimelineFilter, after: Sequence[str] | None, limit: int
) -> list[Row]:
    """Rows matching the filter in (at, id) order, after a cursor key, at most ``limit``.

    Each row has ``at`` and ``item_id`` (the paging key) and ``item``, the API's JSON text.
    """
    cursor.execute(*timeline_sql(where, after, limit))
    return [{"at": r["at"], "item_id": r["item_id"], "item": _item(r)} for r in cursor.fetchall()]


def query_incidents(
    cursor: Cursor, where: TimelineFilter, after: Sequence[str] | None, limit: int
) -> list[Row]:
    """Incidents matching the filter, by when they occurred, after a cursor key: each row has
    the paging key and ``item``, the incident as the API shows it (JSON text)."""
    cursor.execute(*timeline_sql(replace(where, item_type="incident"), after, limit))
    return [
        {"at": r["at"], "item_id": r["item_id"], "item": r["incident"]} for r in cursor.fetchall()
    ]


def timeline_sql(
    where: TimelineFilter, after: Sequence[str] | None, limit: int
) -> tuple[str, list[Any]]:
    """The SELECT of one page of the timeline, and its parameters."""
    live_i, params = _live("i", where.as_of)
    live_v, more = _live("v", where.as_of)
    clauses = [live_i, live_v]
    params += more
    simple = {"i.at >= ?": where.start, "i.at <= ?": where.end}
    simple |= {"i.source_name = ?": where.source, "i.incident_id = ?": where.incident}
    simple |= {"i.item_type = ?": where.item_type}
    for clause, value in simple.items():
        if value is not None:
            clauses.append(clause)
            params.append(value)
    for column, values in (
        ("v.kind", where.kind),
        ("i.source_side", where.side),
        ("i.stance", where.stance),
    ):
        if values:
            clause, found = _in(column, values)
            clauses.append(clause)
            params += found
    if where.q:
        pattern = (
            "%"
            + where.q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            + "%"
        )
        clauses.append(
            "(lower(v.title) LIKE ? ESCAPE '\\' OR lower(COALESCE(i.text, '')) LIKE ? ESCAPE '\\')"
        )
        params += [pattern, pattern]
    if where.bbox is not None:
        min_lon, min_lat, max_lon, max_lat = where.bbox
        clauses.append("v.lat BETWEEN ? AND ? AND v.lon BETWEEN ? AND ?")
        params += [min_lat, max_lat, min_lon, max_lon]
    if after is not None:
        clauses.append("(i.at > ? OR (i.at = ? AND i.item_id > ?))")
        params += [after[0], after[0], after[1]]
    sql = (
        "SELECT i.at, i.item_id, i.item_type, i.recorded_at, i.statement, v.incident, "
        "CASE WHEN v.sys_from_pos > i.sys_from_pos THEN v.sys_from_pos ELSE i.sys_from_pos END "
        "AS position FROM timeline_items i JOIN timeline_incidents v "
        f"ON v.incident_id = i.incident_id WHERE {' AND '.join(clauses)} "
        "ORDER BY i.at, i.item_id LIMIT ?"
    )
    return sql, [*params, limit]


def _item(row: Row) -> str:
    """The API's timeline item as JSON text, put together from stored JSON text.

    The ids and times embedded as they are were made by the service (UUIDs, canonical UTC).
    """
    head = (
        f'{{"type":"{row["item_type"]}","id":"{row["item_id"]}","at":"{row["at"]}",'
        f'"recorded_at":"{row["recorded_at"]}","position":{row["position"]},'
        f'"incident":{row["incident"]}'
    )
    if row["item_type"] == "statement":
        return f'{head},"statement":{row["statement"]}}}'
    return head + "}"

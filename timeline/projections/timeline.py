"""The `timeline` read model: incidents and statements in time order, bitemporal, ready to serve.

Two tables:

- ``timeline_incidents``: the incidents' pictures (:mod:`timeline.projections.versions`), each
  valid on both clocks, with the incident as the API shows it (``incident``, JSON text) and the
  columns filters use (kind, title, place);
- ``timeline_items``: one row per statement (valid from when it was recorded until withdrawn,
  ``sys_to``), and one per picture of each incident's own item (its ``at`` is when the
  incident occurred, which an amendment may change), sorted by ``at``.

A page joins each item to the picture that stands at the moment asked (on either clock), so
"as of T" shows an incident exactly as it was described at T, a retired picture hides the
incident and its statements, and an amendment writes two rows however many statements the
incident has. Items are stored as JSON text and joined as text: a page is sent without
re-shaping any row.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from eventsourcing.dispatch import singledispatchmethod

from timeline.domain import Incident, countries
from timeline.domain.values import COMMON_METRICS
from timeline.event_log import LogEntry
from timeline.pictures import stated_of
from timeline.projections import jsontext as json
from timeline.projections.framework import BatchCursor, Projection
from timeline.projections.sql import Cursor, Row
from timeline.projections.versions import (
    Clock,
    IncidentVersions,
    at_position,
    published,
    said,
    standing,
)

PICTURES = IncidentVersions(
    "timeline_incidents", ("kind", "title", "country", "lat", "lon", "terms", "incident")
)
_ITEM = (
    "INSERT INTO timeline_items (item_id, sys_from_pos, sys_from, item_type, incident_id, at, "
    "recorded_at, version, source_name, source_side, stance, text, statement) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _incident(
    incident_id: str, fields: dict[str, Any], retired: Any = None, stated_at: str | None = None
) -> dict[str, Any]:
    """An incident's fields, retirement and stated time in the API's shape."""
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
        "retired": retired,
        "stated_at": stated_at,
        "flags": fields.get("flags") or [],
    }


class TimelineProjection(Projection):
    """Keeps `timeline_incidents` and `timeline_items` in step with the log."""

    name = "timeline"
    # 5: incidents carry properties, places admin2/admin3; 6: actors are objects; 7: external ids
    # 8: pictures on both clocks, retirement. 9: terms (the analyst filters). 10: metrics
    # 11: countries as ISO codes. 12: quality flags. 13: when each metric was first given
    version = 13
    tables = ("timeline_items", "timeline_incidents", "timeline_metrics")

    def create_tables(self, cursor: Cursor) -> None:
        """Create the tables and the indexes their queries use."""
        postgres = cursor.dialect == "postgres"
        real = "DOUBLE PRECISION" if postgres else "REAL"
        # Keys compare as bytes on both backends (SQLite's default); a PostgreSQL database
        # with a linguistic collation would otherwise order ids and times differently.
        key = 'TEXT COLLATE "C"' if postgres else "TEXT"
        PICTURES.create(
            cursor,
            f"kind TEXT NOT NULL, title TEXT NOT NULL, country TEXT, lat {real}, lon {real}, "
            "terms TEXT NOT NULL, incident TEXT NOT NULL",
        )
        cursor.execute(
            f"""CREATE TABLE IF NOT EXISTS timeline_items (
                item_id {key} NOT NULL, sys_from_pos BIGINT NOT NULL, sys_from {key} NOT NULL,
                sys_to_pos BIGINT, sys_to {key}, item_type TEXT NOT NULL,
                incident_id {key} NOT NULL, at {key} NOT NULL, recorded_at TEXT NOT NULL,
                version INTEGER, source_name TEXT, source_side TEXT, stance TEXT, text TEXT,
                statement TEXT)"""
        )
        # No index keyed by a random id first on the items: rows arrive roughly in time order,
        # so (at, item_id) grows at its end. It serves the current timeline and "as of"
        # reads, which walk it in order and stop at the page limit; the partial index finds
        # an incident's current rows for amendments, withdrawals and the incident filter. A
        # random-keyed primary key made catch-up three times slower at 100,000 rows.
        cursor.execute("CREATE INDEX IF NOT EXISTS timeline_order ON timeline_items (at, item_id)")
        # Every metric a statement has given: the CSV export's figure columns, known before
        # its first row.
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS timeline_metrics (metric {key} PRIMARY KEY, "
            "first_pos BIGINT NOT NULL)"
        )
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS timeline_incident ON timeline_items (incident_id) "
            "WHERE sys_to_pos IS NULL"
        )
        # When each incident was first reported (every new picture's item repeats it): without
        # it, each amendment scanned the items, and a release amending every row was quadratic.
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS timeline_reported ON timeline_items (incident_id) "
            "WHERE item_type = 'incident' AND version = 1"
        )
        # The map's cells of the current incidents, counted from this index alone (the table's
        # rows carry each incident's JSON: scanning them made a map of 100k incidents take 1 s).
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS timeline_incidents_map ON timeline_incidents "
            "(lat, lon, retired, kind, incident_id) WHERE sys_to_pos IS NULL"
        )
        # What changed between two moments (/changes): the pictures recorded, or published,
        # in a window, found without reading every picture.
        for clock, column in (("recorded", "sys_from"), ("stated", "stated_at")):
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS timeline_incidents_{clock} ON timeline_incidents "
                f"({column}, incident_id)"
            )

    def apply(self, cursor: Cursor, entries: Sequence[LogEntry]) -> None:
        """Apply a batch, remembering each touched incident's current fields meanwhile."""
        self._incidents: dict[str, dict[str, Any]] = {}
        self._metrics: dict[str, int] = {}
        super().apply(cursor, entries)
        cursor.executemany(
            "INSERT INTO timeline_metrics (metric, first_pos) VALUES (?, ?) ON CONFLICT DO NOTHING",
            sorted(self._metrics.items()),
        )

    def _current(self, cursor: BatchCursor, incident_id: str) -> dict[str, Any]:
        """The incident as its last recorded version left it (what the next event changes)."""
        if incident_id not in self._incidents:
            self._incidents[incident_id] = json.loads(
                PICTURES.latest(cursor, incident_id)["incident"]
            )
        return self._incidents[incident_id]

    def _picture(
        self, cursor: BatchCursor, entry: LogEntry, incident: dict[str, Any], reported_at: str
    ) -> None:
        """A new picture of the incident, and of its own item on the timeline."""
        incident = incident | {"stated_at": stated_of(entry.event)}
        self._incidents[incident["id"]] = incident
        location = incident["location"] or {}
        PICTURES.add(
            cursor,
            entry,
            incident["retired"] is not None,
            (incident["kind"], incident["title"], location.get("country"), location.get("lat"),
             location.get("lon"), terms(incident), json.dumps(incident)),
        )  # fmt: skip
        at = incident["occurred"]["start"]
        item = (incident["id"], entry.position, entry.recorded, "incident", incident["id"], at)
        cursor.insert(_ITEM, (*item, reported_at, entry.version, *(None,) * 5))

    def _changed(self, cursor: BatchCursor, entry: LogEntry, **changes: Any) -> None:
        current = self._current(cursor, entry.incident_id)
        cursor.execute(
            "SELECT recorded_at FROM timeline_items WHERE incident_id = ? "
            "AND item_type = 'incident' AND version = 1",
            (entry.incident_id,),
        )
        (reported,) = cursor.fetchall()
        self._picture(cursor, entry, current | changes, reported["recorded_at"])

    @singledispatchmethod
    def handle(self, event: object, entry: LogEntry, cursor: BatchCursor) -> None:
        """Events that do not change the timeline."""

    @handle.register
    def _reported(
        self, event: Incident.IncidentReported, entry: LogEntry, cursor: BatchCursor
    ) -> None:
        incident = _incident(entry.incident_id, entry.data)
        self._picture(cursor, entry, incident, entry.recorded)

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
            "flags": s.get("flags") or [],
        }
        cursor.insert(
            _ITEM,
            (s["id"], entry.position, entry.recorded, "statement", entry.incident_id,
             s["stated_at"], entry.recorded, None, source["name"], source["side"], s["stance"],
             s["text"], json.dumps(statement)),
        )  # fmt: skip
        for figure in s["figures"]:
            self._metrics.setdefault(figure["metric"], entry.position)

    @handle.register
    def _amended(
        self, event: Incident.IncidentAmended, entry: LogEntry, cursor: BatchCursor
    ) -> None:
        current = self._current(cursor, entry.incident_id)
        self._changed(cursor, entry, **_incident(entry.incident_id, current | event.changes,
                                                 current["retired"]))  # fmt: skip

    @handle.register
    def _retired(
        self, event: Incident.IncidentRetired, entry: LogEntry, cursor: BatchCursor
    ) -> None:
        retired = {**event.retirement, "retired_at": entry.recorded, "stated_at": event.stated_at}
        self._changed(cursor, entry, retired=retired)

    @handle.register
    def _restored(
        self, event: Incident.IncidentRestored, entry: LogEntry, cursor: BatchCursor
    ) -> None:
        self._changed(cursor, entry, retired=None)

    @handle.register
    def _withdrawn(
        self, event: Incident.StatementWithdrawn, entry: LogEntry, cursor: BatchCursor
    ) -> None:
        cursor.execute(
            "UPDATE timeline_items SET sys_to_pos = ?, sys_to = ? WHERE incident_id = ? "
            "AND item_id = ? AND item_type = 'statement' AND sys_to_pos IS NULL",
            (entry.position, entry.recorded, entry.incident_id, event.statement_id),
        )


def terms(incident: dict[str, Any]) -> str:
    """What the analyst filters match, one ``kind:value`` a line (lower case), framed by
    newlines so that a filter matches a whole line: actors' names and sides, tags, admin1,
    country, place names (which text search also reads) and its external ids' namespaces."""
    location = incident["location"] or {}
    found = [f"actor:{a['name']}" for a in incident["actors"]]
    found += [f"actor:{a['side']}" for a in incident["actors"] if a.get("side")]
    found += [f"tag:{tag}" for tag in incident["tags"]]
    found += [f"admin1:{location['admin1']}"] if location.get("admin1") else []
    found += [f"country:{country}"] if (country := countries.key_of(location)) else []
    found += [f"place:{location[k]}" for k in ("name", "admin2", "admin3") if location.get(k)]
    found += [f"ns:{namespace}" for namespace in incident["external_ids"]]
    found += [f"flag:{flag['code']}" for flag in incident.get("flags") or []]
    return "\n" + "".join(term_line(term) for term in found)


def term_line(term: str) -> str:
    """One term as stored and as matched: lower case, one line."""
    return term.replace("\n", " ").lower() + "\n"


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
    clock: Clock = "recorded"
    retired: bool = False  # include retired incidents (marked so)
    # The analyst filters: each a value any of the incident's terms must equal (see terms()).
    actor: str | None = None
    tag: str | None = None
    country: str | None = None
    admin1: str | None = None
    namespace: str | None = None
    metric: str | None = None
    flag: str | None = None  # a quality flag's code, the incident's own or a live statement's
    flagged: bool | None = None  # with any flag (True) or none (False)
    dedupe: bool = False  # each linked group's incidents once (see _first_of_group)
    # As the log stood at this position (the recorded clock, exactly): what a citation names.
    at_position: int | None = None


def _in(column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
    return f"{column} IN ({', '.join('?' for _ in values)})", list(values)


# A live statement of the item's incident was made by the time asked (one parameter).
_SPOKEN = (
    "EXISTS (SELECT 1 FROM timeline_items s WHERE s.incident_id = i.incident_id "
    "AND s.item_type = 'statement' AND s.sys_to_pos IS NULL AND s.at <= ?)"
)


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


def _flags(code: str | None, where: TimelineFilter) -> tuple[str, list[Any]]:
    """Incidents with a quality flag (``code``, or any): their own picture's, or that of a
    statement live at ``as_of`` (statements are stored as compact JSON, a flag's code first)."""
    own = "%\n" + _escaped(term_line(f"flag:{code}") if code else "flag:") + "%"
    flagged = f'%{{"code":"{_escaped(code)}"%' if code else '%"flags":[{%'
    clause, params = _a_statement_like(where)
    return f"(v.terms LIKE ? ESCAPE '\\' OR {clause})", [own, *params, flagged]


def _a_statement_like(where: TimelineFilter) -> tuple[str, list[Any]]:
    """SQL: the incident has a statement live at the filter's ``as_of`` (on its clock) whose
    JSON is LIKE the one parameter left to add."""
    live, params = _said(where, "s")
    if where.as_of is None and where.at_position is None:  # (the current rows' index serves)
        live += " AND s.sys_to_pos IS NULL"
    return (
        "EXISTS (SELECT 1 FROM timeline_items s WHERE s.incident_id = i.incident_id "
        f"AND s.item_type = 'statement' AND {live} AND s.statement LIKE ? ESCAPE '\\')",
        params,
    )


def timeline_sql(
    where: TimelineFilter, after: Sequence[str] | None, limit: int
) -> tuple[str, list[Any]]:
    """The SELECT of one page of the timeline, and its parameters."""
    clauses, params = _conditions(where)
    if where.dedupe:
        clause, more = _first_of_group(where)
        clauses.append(clause)
        params += more
    if after is not None:
        # The leading range lets the (at, item_id) index seek to the key, not scan up to it.
        clauses.append("i.at >= ? AND (i.at > ? OR i.item_id > ?)")
        params += [after[0], after[0], after[1]]
    sql = (
        "SELECT i.at, i.item_id, i.item_type, i.recorded_at, i.statement, v.incident, "
        "CASE WHEN v.sys_from_pos > i.sys_from_pos THEN v.sys_from_pos ELSE i.sys_from_pos END "
        "AS position FROM timeline_items i JOIN timeline_incidents v "
        f"ON v.incident_id = i.incident_id WHERE {' AND '.join(clauses)} "
        "ORDER BY i.at, i.item_id LIMIT ?"
    )
    return sql, [*params, limit]


def _first_of_group(where: TimelineFilter) -> tuple[str, list[Any]]:
    """SQL: the row is not an incident that another member of its linked group (the links held
    now) precedes among the rows the filter matches — so each group shows once, as its first
    matching member. Statements are every member's: they are the competing claims."""
    clauses, params = _conditions(replace(where, item_type="incident"))
    aliased = re.sub(r"\b([isv])\.", r"\g<1>2.", " AND ".join(clauses))
    aliased = aliased.replace("FROM timeline_items s ", "FROM timeline_items s2 ")
    return (
        "(i.item_type <> 'incident' OR NOT EXISTS (SELECT 1 FROM link_members m "
        "JOIN link_members o ON o.cluster_id = m.cluster_id AND o.incident_id <> m.incident_id "
        "JOIN timeline_items i2 ON i2.incident_id = o.incident_id "
        "JOIN timeline_incidents v2 ON v2.incident_id = i2.incident_id "
        "WHERE m.incident_id = i.incident_id "
        f"AND (i2.at < i.at OR (i2.at = i.at AND i2.item_id < i.item_id)) AND {aliased}))",
        params,
    )


def _standing(where: TimelineFilter, alias: str) -> tuple[str, list[Any]]:
    """SQL: the picture row of ``alias`` stands at the filter's time (or log position)."""
    if where.at_position is not None:
        return at_position(alias, where.at_position)
    return standing(alias, where.clock, where.as_of)


def _said(where: TimelineFilter, alias: str) -> tuple[str, list[Any]]:
    """SQL: the statement row of ``alias`` is live at the filter's time (or log position)."""
    if where.at_position is not None:
        return at_position(alias, where.at_position)
    return said(alias, where.clock, where.as_of, "sys_from", "sys_to", "at")


def _conditions(where: TimelineFilter) -> tuple[list[str], list[Any]]:
    """The filter as SQL conditions on ``i`` (an item) and ``v`` (its incident's picture)."""
    clauses, params = _picture_conditions(where)
    live_s, more_s = _said(where, "i")
    shown, more_i = published("v", where.clock, where.as_of, _SPOKEN)
    clauses.append(
        f"((i.item_type = 'statement' AND {live_s}) "
        f"OR (i.item_type = 'incident' AND i.version = v.version AND {shown}))"
    )
    params += more_s + more_i
    if where.metric is not None:
        clause, more = _a_statement_like(where)
        clauses.append(clause)
        params += [*more, f'%"metric":"{_escaped(where.metric)}"%']
    if where.flag is not None or where.flagged is not None:
        clause, more = _flags(where.flag, where)
        clauses.append(clause if where.flagged is not False else f"NOT {clause}")
        params += more
    simple = {"i.at >= ?": where.start, "i.at <= ?": where.end}
    simple |= {"i.source_name = ?": where.source, "i.incident_id = ?": where.incident}
    simple |= {"i.item_type = ?": where.item_type}
    for clause, value in simple.items():
        if value is not None:
            clauses.append(clause)
            params.append(value)
    for column, values in (
        ("lower(i.source_side)", [side.lower() for side in where.side]),
        ("i.stance", where.stance),
    ):
        if values:
            clause, found = _in(column, values)
            clauses.append(clause)
            params += found
    if where.q:
        pattern = "%" + _escaped(where.q.lower()) + "%"
        clauses.append(
            "(lower(v.title) LIKE ? ESCAPE '\\' OR lower(COALESCE(i.text, '')) LIKE ? ESCAPE '\\' "
            "OR v.terms LIKE ? ESCAPE '\\')"
        )
        params += [pattern, pattern, pattern]
    return clauses, params


def _picture_conditions(where: TimelineFilter) -> tuple[list[str], list[Any]]:
    """The part of the filter that is the incident's picture's alone (``v``)."""
    live_v, params = _standing(where, "v")
    clauses = [live_v]
    if not where.retired:
        clauses.append("v.retired = 0")
    for kind in ("actor", "tag", "country", "admin1"):
        if (value := getattr(where, kind)) is not None:
            value = countries.wanted(value) if kind == "country" else value  # a code or a name
            clauses.append("v.terms LIKE ? ESCAPE '\\'")
            params.append("%\n" + _escaped(term_line(f"{kind}:{value}")) + "%")
    if where.namespace is not None:
        clauses.append("v.terms LIKE ? ESCAPE '\\'")
        params.append("%\n" + _escaped(term_line(f"ns:{where.namespace}")) + "%")
    if where.kind:
        clause, found = _in("v.kind", where.kind)
        clauses.append(clause)
        params += found
    if where.bbox is not None:
        min_lon, min_lat, max_lon, max_lat = where.bbox
        clauses.append("v.lat BETWEEN ? AND ? AND v.lon BETWEEN ? AND ?")
        params += [min_lat, max_lat, min_lon, max_lon]
    return clauses, params


def _picture_only(where: TimelineFilter) -> bool:
    """Whether the current pictures alone answer the filter (nothing of the items, no time):
    what the map's cells can count without reading the timeline's items."""
    picture_only = ("kind", "actor", "tag", "country", "admin1", "namespace", "bbox", "retired")
    return replace(where, **{k: getattr(TimelineFilter(), k) for k in picture_only}) == (
        TimelineFilter()
    )


def incident_cells(cursor: Cursor, where: TimelineFilter, degrees: float) -> list[Row]:
    """The incidents the filter matches, counted per map cell of ``degrees`` (a map's zoom
    level): each cell's count, the mean of its points, and one incident's id (the only one,
    where the count is 1)."""
    if _picture_only(where):  # (the current pictures alone answer: no join with the items)
        clauses, params = _picture_conditions(where)
        source = "timeline_incidents v"
    else:
        clauses, params = _conditions(replace(where, item_type="incident"))
        source = "timeline_items i JOIN timeline_incidents v ON v.incident_id = i.incident_id"
        if where.dedupe:
            clause, more = _first_of_group(where)
            clauses.append(clause)
            params += more
    if cursor.dialect == "postgres":
        row, column = "FLOOR((v.lat + 90.0) / ?)", "FLOOR((v.lon + 180.0) / ?)"
    else:  # (positive, so truncation is the floor)
        row, column = "CAST((v.lat + 90.0) / ? AS INTEGER)", "CAST((v.lon + 180.0) / ? AS INTEGER)"
    cursor.execute(
        "SELECT gy, gx, COUNT(*) AS count, AVG(lat) AS lat, AVG(lon) AS lon, MIN(id) AS one "
        f"FROM (SELECT {row} AS gy, {column} AS gx, v.lat AS lat, v.lon AS lon, "
        f"v.incident_id AS id FROM {source} WHERE {' AND '.join(clauses)} "
        "AND v.lat IS NOT NULL) g GROUP BY gy, gx ORDER BY gy, gx",
        [degrees, degrees, *params],
    )
    return [
        {"count": int(r["count"]), "lat": float(r["lat"]), "lon": float(r["lon"]),
         "incident_id": r["one"] if int(r["count"]) == 1 else None}
        for r in cursor.fetchall()
    ]  # fmt: skip


def live_statements(
    cursor: Cursor, where: TimelineFilter, incident_ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """The live statements (at the filter's time, on its clock) of these incidents, in the
    order they were said, by incident."""
    texts = live_statement_texts(cursor, where, incident_ids)
    return {i: [json.loads(text) for text in said] for i, said in texts.items()}


def live_statement_texts(
    cursor: Cursor, where: TimelineFilter, incident_ids: Sequence[str]
) -> dict[str, list[str]]:
    """The same, each statement as the stored JSON text of the API's shape."""
    live_s, params = _said(where, "i")
    if where.as_of is None and where.at_position is None:  # (the current rows' index serves)
        live_s += " AND i.sys_to_pos IS NULL"
    found: dict[str, list[tuple[str, str, str]]] = {i: [] for i in incident_ids}
    for start in range(0, len(incident_ids), 500):
        chunk = list(incident_ids[start : start + 500])
        # Sorted here, not by the query: an ORDER BY would walk the whole timeline in order.
        cursor.execute(
            "SELECT i.incident_id, i.at, i.item_id, i.statement FROM timeline_items i "
            f"WHERE i.item_type = 'statement' AND {live_s} "
            f"AND i.incident_id IN ({', '.join('?' for _ in chunk)})",
            [*params, *chunk],
        )
        for row in cursor.fetchall():
            said_row = (row["at"], row["item_id"], row["statement"])
            found[row["incident_id"]].append(said_row)
    return {i: [s for _, _, s in sorted(rows, key=lambda r: r[:2])] for i, rows in found.items()}


def namespace_ids(cursor: Cursor, namespace: str) -> set[str]:
    """The ids of a namespace that name live (not retired) incidents now."""
    cursor.execute(
        "SELECT incident FROM timeline_incidents WHERE sys_to_pos IS NULL AND retired = 0 "
        "AND terms LIKE ? ESCAPE '\\'",
        ("%\n" + _escaped(term_line(f"ns:{namespace}")) + "%",),
    )
    return {json.loads(row["incident"])["external_ids"][namespace] for row in cursor.fetchall()}


def figure_metrics(cursor: Cursor, at_position: int | None = None) -> tuple[str, ...]:
    """Every metric a figure may have in an export: the common ones, then any other a
    statement has given (by ``at_position``), alphabetically."""
    cutoff, params = ("", []) if at_position is None else (" WHERE first_pos <= ?", [at_position])
    cursor.execute(f"SELECT metric FROM timeline_metrics{cutoff} ORDER BY metric", params)
    others = [row["metric"] for row in cursor.fetchall() if row["metric"] not in COMMON_METRICS]
    return (*COMMON_METRICS, *others)


def _escaped(text: str) -> str:
    """``text`` matched literally by LIKE … ESCAPE '\\'."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


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

"""The `ceasefires` read model: each ceasefire's window against the fighting reported inside it.

Rules, on either clock of knowledge ("now" or "as of" a past time):

- fighting (a strike, shelling, explosion, battle, violence against civilians or a reported
  violation) *falls in* a ceasefire when its time overlaps the
  window (both ends inclusive; an open-ended ceasefire runs on) and, when the ceasefire names a
  country, it happened in that country;
- such an incident is *disputed* when it has reports and every one of them is answered by a
  denial from a side of the incident's actors (the accused); otherwise *reported*;
- the ceasefire *held* with no incident inside it, is *disputed* when every incident inside is,
  and was *violated* otherwise.

Two sets of tables. The history (``ceasefire_incidents``: the incidents' pictures, each valid on
both clocks — :mod:`timeline.projections.versions`; ``ceasefire_statements``: every statement
with its withdrawal time) answers "as of" by deciding at read time. A retired incident is neither
a window nor fighting. The current state is kept
finished as events arrive: ``ceasefire_windows`` (each ceasefire, who declared it),
``ceasefire_fighting`` (each fighting incident as a violation, with its status) and
``ceasefire_violations`` (which fighting falls in which window), so the current listing pages
through ready rows and stays flat as the log grows. After each batch, the incidents it touched
are recomputed from the history tables, then re-linked when their time, place or kind changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.dispatch import singledispatchmethod

from timeline.domain import Incident
from timeline.domain.values import sides_of
from timeline.event_log import LogEntry
from timeline.projections import jsontext as json
from timeline.projections.framework import BatchCursor, Projection
from timeline.projections.sql import Cursor, Row
from timeline.projections.versions import (
    Clock,
    IncidentVersions,
    at_position,
    held_at,
    published,
    said,
    standing,
)

FIGHTING = (
    "strike",
    "shelling",
    "explosion",
    "battle",
    "violence_against_civilians",
    "violation",
)
DECLARING = ("announcement", "claim", "confirmation")
INCIDENT_COLUMNS = ("incident_id", "title", "kind", "start_at", "end_at", "country", "actors")
PICTURES = IncidentVersions("ceasefire_incidents", INCIDENT_COLUMNS[1:])
# Fighting row f falls in window w: a window is [start, end) — fighting that starts as the
# truce ends is not inside it —, the fighting's own period is closed, an open end runs on; in
# the window's country if it names one.
_FALLS_IN = (
    "(w.end_at IS NULL OR f.start_at < w.end_at) "
    "AND COALESCE(f.end_at, f.start_at) >= w.start_at "
    "AND (w.country IS NULL OR f.country = w.country)"
)


class CeasefiresProjection(Projection):
    """Keeps the ceasefire history and the current windows, fighting and links in step."""

    name = "ceasefires"
    # 4: actors are objects; parties and accused are their sides. 5: pictures. 6: [start, end)
    version = 7  # 7: statements' log positions (for at_position)
    tables = (
        "ceasefire_incidents",
        "ceasefire_statements",
        "ceasefire_windows",
        "ceasefire_fighting",
        "ceasefire_violations",
    )

    def create_tables(self, cursor: Cursor) -> None:
        """History (incident versions, statements) and current state (windows, fighting)."""
        PICTURES.create(
            cursor,
            "title TEXT NOT NULL, kind TEXT NOT NULL, start_at TEXT NOT NULL, end_at TEXT, "
            "country TEXT, actors TEXT NOT NULL",
        )
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS ceasefire_incidents_kind "
            "ON ceasefire_incidents (kind, start_at)"
        )
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS ceasefire_statements (statement_id TEXT NOT NULL, "
            "incident_id TEXT NOT NULL, source_name TEXT NOT NULL, source_side TEXT NOT NULL, "
            "source_type TEXT NOT NULL, stance TEXT NOT NULL, responds_to TEXT, "
            "stated_at TEXT NOT NULL, recorded_at TEXT NOT NULL, withdrawn_at TEXT, "
            "recorded_pos BIGINT NOT NULL, withdrawn_pos BIGINT, "
            "PRIMARY KEY (incident_id, statement_id))"
        )
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS ceasefire_windows (incident_id TEXT PRIMARY KEY, "
            "start_at TEXT NOT NULL, end_at TEXT, country TEXT, parties TEXT NOT NULL, "
            "ceasefire TEXT NOT NULL)"
        )
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS ceasefire_windows_order "
            "ON ceasefire_windows (start_at, incident_id)"
        )
        # Fighting is recent as the log grows: the windows it can fall in end after it started.
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS ceasefire_windows_end ON ceasefire_windows (end_at)"
        )
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS ceasefire_fighting (incident_id TEXT PRIMARY KEY, "
            "start_at TEXT NOT NULL, end_at TEXT, country TEXT, status TEXT NOT NULL, "
            "violation TEXT NOT NULL)"
        )
        # Fighting at one moment (no end) by its start, fighting over a period by its end: each
        # a range beginning at a window, so linking a new window reads only what falls in it.
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS ceasefire_fighting_times "
            "ON ceasefire_fighting (end_at, start_at)"
        )
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS ceasefire_violations (ceasefire_id TEXT NOT NULL, "
            "incident_id TEXT NOT NULL, PRIMARY KEY (ceasefire_id, incident_id))"
        )
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS ceasefire_violations_incident "
            "ON ceasefire_violations (incident_id)"
        )

    def apply(self, cursor: Cursor, entries: Sequence[LogEntry]) -> None:
        """Apply a batch, noting which incidents moved (time, place, kind: re-link them), which
        changed kind (leave their old part), and which were talked about."""
        self._moved: set[str] = set()
        self._rekinded: set[str] = set()
        self._talked: set[str] = set()
        super().apply(cursor, entries)

    @singledispatchmethod
    def handle(self, event: object, entry: LogEntry, cursor: BatchCursor) -> None:
        """Events that change no ceasefire."""

    @handle.register
    def _reported(
        self, event: Incident.IncidentReported, entry: LogEntry, cursor: BatchCursor
    ) -> None:
        PICTURES.add(cursor, entry, False, _payload(entry.data))
        self._moved.add(entry.incident_id)

    @handle.register(Incident.IncidentAmended)
    @handle.register(Incident.IncidentRetired)
    @handle.register(Incident.IncidentRestored)
    def _pictured_again(self, event: Any, entry: LogEntry, cursor: BatchCursor) -> None:
        """A new picture may change what the incident is now in any way (an older one may
        even stand again): its part is forgotten and kept anew."""
        latest = PICTURES.latest(cursor, entry.incident_id)
        fields = _fields(latest)
        retired = bool(latest["retired"])
        if isinstance(event, Incident.IncidentAmended):
            fields |= event.changes
        else:
            retired = isinstance(event, Incident.IncidentRetired)
        PICTURES.add(cursor, entry, retired, _payload(fields))
        self._moved.add(entry.incident_id)
        self._rekinded.add(entry.incident_id)

    @handle.register
    def _recorded(
        self, event: Incident.StatementRecorded, entry: LogEntry, cursor: BatchCursor
    ) -> None:
        s = event.statement
        source = s["source"]
        cursor.insert(
            "INSERT INTO ceasefire_statements (statement_id, incident_id, source_name, "
            "source_side, source_type, stance, responds_to, stated_at, recorded_at, "
            "recorded_pos) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (s["id"], entry.incident_id, source["name"], source["side"], source["type"],
             s["stance"], s["responds_to"], s["stated_at"], entry.recorded, entry.position),
        )  # fmt: skip
        self._talked.add(entry.incident_id)

    @handle.register
    def _withdrawn(
        self, event: Incident.StatementWithdrawn, entry: LogEntry, cursor: BatchCursor
    ) -> None:
        cursor.execute(
            "UPDATE ceasefire_statements SET withdrawn_at = ?, withdrawn_pos = ? "
            "WHERE incident_id = ? AND statement_id = ?",
            (entry.recorded, entry.position, entry.incident_id, event.statement_id),
        )
        self._talked.add(entry.incident_id)

    def finish(self, cursor: BatchCursor) -> None:
        """Recompute what the batch touched, then re-link what moved (windows first)."""
        touched = sorted(self._moved | self._talked)
        if not touched:
            return
        current = {row["incident_id"]: row for row in _current_rows(cursor, touched)}
        statements = _statements(cursor, touched, CeasefireFilter())
        for incident_id in sorted(self._rekinded):
            _forget(cursor, incident_id)
        for incident_id in touched:
            if not current[incident_id]["retired"]:
                _keep(cursor, current[incident_id], statements.get(incident_id, []))
        moved = [current[i] for i in sorted(self._moved) if not current[i]["retired"]]
        for window in (row for row in moved if row["kind"] == "ceasefire"):
            _link_window(cursor, window["incident_id"])
        _link_fighting(cursor, [row["incident_id"] for row in moved if row["kind"] in FIGHTING])


def _payload(fields: dict[str, Any]) -> tuple[Any, ...]:
    """The columns of an incident's picture this read model keeps."""
    location = fields.get("location") or {}
    return (
        fields["title"], fields["kind"], fields["occurred"]["start"],
        fields["occurred"].get("end"), location.get("country"),
        json.dumps(fields.get("actors") or []),
    )  # fmt: skip


def _current_rows(cursor: Cursor, incident_ids: Sequence[str]) -> list[Row]:
    rows: list[Row] = []
    for start in range(0, len(incident_ids), 500):  # keep each IN list a reasonable size
        chunk = incident_ids[start : start + 500]
        cursor.execute(
            f"SELECT {', '.join(INCIDENT_COLUMNS)}, retired FROM ceasefire_incidents "
            f"WHERE sys_to_pos IS NULL AND incident_id IN ({', '.join('?' for _ in chunk)})",
            chunk,
        )
        rows += cursor.fetchall()
    return rows


def _fields(row: Row) -> dict[str, Any]:
    return {
        "title": row["title"],
        "kind": row["kind"],
        "occurred": {"start": row["start_at"], "end": row["end_at"]},
        "location": {"country": row["country"]},
        "actors": json.loads(row["actors"]),
    }


def _forget(cursor: BatchCursor, incident_id: str) -> None:
    """Remove an incident's current part and links (its kind changed; it is kept anew)."""
    for table, column in (
        ("ceasefire_windows", "incident_id"),
        ("ceasefire_fighting", "incident_id"),
        ("ceasefire_violations", "ceasefire_id"),
        ("ceasefire_violations", "incident_id"),
    ):
        cursor.execute(f"DELETE FROM {table} WHERE {column} = ?", (incident_id,))


_KEEP_WINDOW = (
    "INSERT INTO ceasefire_windows (incident_id, start_at, end_at, country, parties, ceasefire) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (incident_id) DO UPDATE SET "
    "start_at = excluded.start_at, end_at = excluded.end_at, country = excluded.country, "
    "parties = excluded.parties, ceasefire = excluded.ceasefire"
)
_KEEP_FIGHTING = (
    "INSERT INTO ceasefire_fighting (incident_id, start_at, end_at, country, status, violation) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (incident_id) DO UPDATE SET "
    "start_at = excluded.start_at, end_at = excluded.end_at, country = excluded.country, "
    "status = excluded.status, violation = excluded.violation"
)


def _keep(cursor: BatchCursor, row: Row, statements: list[Row]) -> None:
    """Store the incident's current part: a window, a fighting incident, or neither."""
    place = (row["start_at"], row["end_at"], row["country"])
    if row["kind"] == "ceasefire":
        ceasefire = json.dumps(_ceasefire(row, statements))
        parties = json.dumps(sides_of(json.loads(row["actors"])))
        cursor.insert(_KEEP_WINDOW, (row["incident_id"], *place, parties, ceasefire))
    elif row["kind"] in FIGHTING:
        violation = _violation(row, statements)
        kept = (row["incident_id"], *place, violation["status"], json.dumps(violation))
        cursor.insert(_KEEP_FIGHTING, kept)


def _link_window(cursor: BatchCursor, ceasefire_id: str) -> None:
    """Link a window to all the fighting inside it (afresh).

    Each part is an index range that starts at the window, so the cost follows the fighting
    inside it, not all the fighting before it: fighting at one moment by its start, fighting
    over a period by its end.
    """
    cursor.execute("DELETE FROM ceasefire_violations WHERE ceasefire_id = ?", (ceasefire_id,))
    for near in ("f.end_at IS NULL AND f.start_at >= w.start_at", "f.end_at >= w.start_at"):
        cursor.execute(
            "INSERT INTO ceasefire_violations (ceasefire_id, incident_id) "
            "SELECT w.incident_id, f.incident_id FROM ceasefire_windows w "
            f"JOIN ceasefire_fighting f ON {near} AND {_FALLS_IN} "
            "WHERE w.incident_id = ? ON CONFLICT DO NOTHING",
            (ceasefire_id,),
        )


def _link_fighting(cursor: BatchCursor, incident_ids: list[str]) -> None:
    """Link fighting incidents to the windows they fall in (afresh): a few statements a batch.

    Windows with an end are found through their end (they must end after the fighting
    started); open-ended ones are few and checked apart.
    """
    for start in range(0, len(incident_ids), 500):
        chunk = incident_ids[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        cursor.execute(f"DELETE FROM ceasefire_violations WHERE incident_id IN ({marks})", chunk)
        for ends in ("w.end_at > f.start_at", "w.end_at IS NULL"):
            cursor.execute(
                "INSERT INTO ceasefire_violations (ceasefire_id, incident_id) "
                "SELECT w.incident_id, f.incident_id FROM ceasefire_fighting f "
                f"JOIN ceasefire_windows w ON {ends} AND {_FALLS_IN} "
                f"WHERE f.incident_id IN ({marks}) ON CONFLICT DO NOTHING",
                chunk,
            )


@dataclass(frozen=True)
class CeasefireFilter:
    """Ceasefires whose window [start, end) overlaps the period [start, end], binding a party,
    as known at as_of."""

    start: str | None = None
    end: str | None = None
    party: str | None = None
    as_of: str | None = None
    clock: Clock = "recorded"
    at_position: int | None = None  # as the log stood at this position (exactly)


# A live statement of the incident was made by the time asked (one parameter).
_SPOKEN = (
    "EXISTS (SELECT 1 FROM ceasefire_statements s WHERE s.incident_id = i.incident_id "
    "AND s.withdrawn_at IS NULL AND s.stated_at <= ?)"
)


def _falls_in(start: str, end: str | None, other_start: str, other_end: str | None) -> bool:
    """Whether the closed period ``other_`` (a moment without its end) meets the window
    [start, end) (an open end runs on for ever): as _FALLS_IN."""
    return (end is None or other_start < end) and (other_end or other_start) >= start


def _status(violations: list[dict[str, Any]]) -> str:
    if not violations:
        return "held"
    return "disputed" if all(v["status"] == "disputed" for v in violations) else "violated"


def query_ceasefires(
    cursor: Cursor, where: CeasefireFilter, after: Sequence[str] | None = None, limit: int = 100
) -> list[Row]:
    """Matching ceasefires in (window start, id) order after a paging key, with the fighting
    inside each window and their status.

    Each row has ``start`` and ``id`` (the paging key) and ``item``, the API's JSON text:
    the current state is stored in that shape and put together as text.
    """
    if where.as_of is not None or where.at_position is not None:
        return [
            {"start": c["window"]["start"], "id": c["id"], "item": json.dumps(c)}
            for c in _decided_as_of(cursor, where, after, limit)
        ]
    clauses, params = _windows("w", where, after)
    if where.party is not None:
        escaped = where.party.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        clauses.append("w.parties LIKE ? ESCAPE '\\'")
        params.append(f'%"{escaped}"%')
    cursor.execute(
        "SELECT w.incident_id, w.start_at, w.ceasefire FROM ceasefire_windows w "
        f"WHERE {' AND '.join(clauses)} ORDER BY w.start_at, w.incident_id LIMIT ?",
        [*params, limit],
    )
    windows = cursor.fetchall()
    inside: dict[str, list[Row]] = {w["incident_id"]: [] for w in windows}
    if windows:
        cursor.execute(
            "SELECT v.ceasefire_id, f.status, f.violation FROM ceasefire_violations v "
            "JOIN ceasefire_fighting f ON f.incident_id = v.incident_id "
            f"WHERE v.ceasefire_id IN ({', '.join('?' for _ in windows)}) "
            "ORDER BY f.start_at, f.incident_id",
            [w["incident_id"] for w in windows],
        )
        for row in cursor.fetchall():
            inside[row["ceasefire_id"]].append(row)
    return [
        {
            "start": w["start_at"],
            "id": w["incident_id"],
            "item": _assembled(w, inside[w["incident_id"]]),
        }
        for w in windows
    ]


def _assembled(window: Row, violations: list[Row]) -> str:
    """A ceasefire's JSON text: its stored part, the violations' stored texts, its status."""
    status = _status([{"status": v["status"]} for v in violations])
    texts = ",".join(v["violation"] for v in violations)
    return f'{window["ceasefire"][:-1]},"violations":[{texts}],"status":"{status}"}}'


def _windows(
    alias: str, where: CeasefireFilter, after: Sequence[str] | None
) -> tuple[list[str], list[Any]]:
    """SQL: windows of ``alias`` overlapping the filter's period, after the paging key."""
    clauses, params = ["1 = 1"], []
    if where.end is not None:
        clauses.append(f"{alias}.start_at <= ?")
        params.append(where.end)
    if where.start is not None:
        clauses.append(f"COALESCE({alias}.end_at, '9999') > ?")
        params.append(where.start)
    if after is not None:
        clauses.append(
            f"{alias}.start_at >= ? AND ({alias}.start_at > ? OR {alias}.incident_id > ?)"
        )
        params += [after[0], after[0], after[1]]
    return clauses, params


def _decided_as_of(
    cursor: Cursor, where: CeasefireFilter, after: Sequence[str] | None, limit: int
) -> list[dict[str, Any]]:
    """A page of matching ceasefires as known at ``where.as_of``, decided from the history
    tables: the page's windows first, then only the fighting that can fall in them."""
    if where.at_position is not None:
        live_i, params = at_position("i", where.at_position)
    else:
        live_i, params = standing("i", where.clock, where.as_of)
    shown, params_shown = published("i", where.clock, where.as_of, _SPOKEN)
    known = f"{live_i} AND {shown} AND i.retired = 0"
    params += params_shown
    columns = ", ".join("i." + c for c in INCIDENT_COLUMNS)
    clauses, more = _windows("i", where, after)
    cursor.execute(
        f"SELECT {columns} FROM ceasefire_incidents i "
        f"WHERE {known} AND i.kind = 'ceasefire' AND {' AND '.join(clauses)} "
        "ORDER BY i.start_at, i.incident_id" + ("" if where.party else f" LIMIT {int(limit)}"),
        [*params, *more],
    )
    ceasefires = [r for r in cursor.fetchall() if _wanted(r, where)][:limit]
    if not ceasefires:
        return []
    # Fighting that can fall in any of these windows: it ends after the first one starts and,
    # unless a window is open-ended, starts before the last one ends.
    span = ["COALESCE(i.end_at, i.start_at) >= ?"]
    span_params: list[Any] = [min(c["start_at"] for c in ceasefires)]
    if all(c["end_at"] is not None for c in ceasefires):
        span.append("i.start_at <= ?")
        span_params.append(max(c["end_at"] for c in ceasefires))
    cursor.execute(
        f"SELECT {columns} FROM ceasefire_incidents i WHERE {known} AND {' AND '.join(span)} "
        f"AND i.kind IN ({', '.join('?' for _ in FIGHTING)}) ORDER BY i.start_at, i.incident_id",
        [*params, *span_params, *FIGHTING],
    )
    fighting = cursor.fetchall()
    inside = {
        c["incident_id"]: [
            r
            for r in fighting
            if _falls_in(c["start_at"], c["end_at"], r["start_at"], r["end_at"])
            and (c["country"] is None or r["country"] == c["country"])
        ]
        for c in ceasefires
    }
    wanted = {c["incident_id"] for c in ceasefires}
    wanted.update(r["incident_id"] for rs in inside.values() for r in rs)
    statements = _statements(cursor, sorted(wanted), where)
    result = []
    for ceasefire in ceasefires:
        violations = [
            _violation(r, statements.get(r["incident_id"], []))
            for r in inside[ceasefire["incident_id"]]
        ]
        said = statements.get(ceasefire["incident_id"], [])
        result.append(
            _ceasefire(ceasefire, said) | {"violations": violations, "status": _status(violations)}
        )
    return result


def _ceasefire(row: Row, statements: list[Row]) -> dict[str, Any]:
    """A ceasefire's own part of the answer: window, scope, parties, who declared it."""
    return {
        "id": row["incident_id"],
        "title": row["title"],
        "window": {"start": row["start_at"], "end": row["end_at"]},
        "scope": row["country"],
        "parties": sides_of(json.loads(row["actors"])),
        "declared_by": [_source(s) for s in statements if s["stance"] in DECLARING],
    }


def _statements(
    cursor: Cursor, incident_ids: list[str], where: CeasefireFilter
) -> dict[str, list[dict[str, Any]]]:
    """Live statements of the given incidents (at the filter's time or position), by
    incident, in the order they were said."""
    if where.at_position is not None:
        live_s, params_s = held_at("s", where.at_position, "recorded_pos", "withdrawn_pos")
    else:
        live_s, params_s = said("s", where.clock, where.as_of, "recorded_at", "withdrawn_at",
                                "stated_at")  # fmt: skip
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
    if where.party is not None and where.party not in sides_of(json.loads(ceasefire["actors"])):
        return False
    if where.start is None and where.end is None:
        return True
    return _falls_in(
        ceasefire["start_at"], ceasefire["end_at"], where.start or "", where.end or "9999"
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
    accused = set(sides_of(json.loads(incident["actors"])))
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

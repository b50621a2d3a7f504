"""The `claims` read model: contested figures — who claimed which number, and who disputed it.

The table keeps the facts (every statement that gives a figure or answers another one, with
when it was recorded and withdrawn); :func:`query_claims` groups them per incident, metric and
subject at query time, so "as of T" is a filter on the same rows. Rules:

- a figure counts toward the low/high range unless its statement is withdrawn (editorially) or
  superseded: answered by the same source's later ``correction`` (for the metric/subject the
  correction gives) or ``retraction`` (for all of them);
- a group is ``contested`` when its live values disagree, or when a ``denial`` answers any of its
  statements — with or without a figure of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eventsourcing.dispatch import singledispatchmethod

from timeline.domain import Incident
from timeline.event_log import LogEntry
from timeline.projections import jsontext as json
from timeline.projections.framework import BatchCursor, Projection
from timeline.projections.sql import Cursor
from timeline.projections.versions import (
    Clock,
    IncidentVersions,
    at_position,
    held_at,
    said,
    standing,
)

ANSWERING = ("denial", "correction", "retraction", "confirmation")
COLUMNS = (
    "statement_id",
    "incident_id",
    "source_name",
    "source_side",
    "source_type",
    "stance",
    "responds_to",
    "stated_at",
    "recorded_at",
    "withdrawn_at",
    "figures",
    "recorded_pos",
)
# Each incident's title and kind, and whether it is retired, per picture on both clocks.
PICTURES = IncidentVersions("claim_incidents", ("title", "kind"))
_INSERT = (
    f"INSERT INTO claim_statements ({', '.join(COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in COLUMNS)})"
)


class ClaimsProjection(Projection):
    """Keeps `claim_statements` and `claim_incidents` in step with the log."""

    name = "claims"
    # 3: pictures on both clocks; retired incidents leave the claims. 4: log positions (for
    # at_position)
    version = 4
    tables = ("claim_statements", "claim_incidents")

    def create_tables(self, cursor: Cursor) -> None:
        """Statements with figures or answers; incident titles for display."""
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS claim_statements (statement_id TEXT NOT NULL, "
            "incident_id TEXT NOT NULL, source_name TEXT NOT NULL, source_side TEXT NOT NULL, "
            "source_type TEXT NOT NULL, stance TEXT NOT NULL, responds_to TEXT, "
            "stated_at TEXT NOT NULL, recorded_at TEXT NOT NULL, withdrawn_at TEXT, "
            "figures TEXT NOT NULL, recorded_pos BIGINT NOT NULL, withdrawn_pos BIGINT, "
            "PRIMARY KEY (incident_id, statement_id))"
        )
        PICTURES.create(cursor, "title TEXT NOT NULL, kind TEXT NOT NULL")

    @singledispatchmethod
    def handle(self, event: object, entry: LogEntry, cursor: BatchCursor) -> None:
        """Events that change no figure."""

    @handle.register
    def _reported(
        self, event: Incident.IncidentReported, entry: LogEntry, cursor: BatchCursor
    ) -> None:
        PICTURES.add(cursor, entry, False, (event.title, event.kind))

    @handle.register
    def _amended(
        self, event: Incident.IncidentAmended, entry: LogEntry, cursor: BatchCursor
    ) -> None:
        latest = PICTURES.latest(cursor, entry.incident_id)
        title = event.changes.get("title", latest["title"])
        kind = event.changes.get("kind", latest["kind"])
        PICTURES.add(cursor, entry, bool(latest["retired"]), (title, kind))

    @handle.register(Incident.IncidentRetired)
    @handle.register(Incident.IncidentRestored)
    def _retirement(self, event: Any, entry: LogEntry, cursor: BatchCursor) -> None:
        latest = PICTURES.latest(cursor, entry.incident_id)
        retired = isinstance(event, Incident.IncidentRetired)
        PICTURES.add(cursor, entry, retired, (latest["title"], latest["kind"]))

    @handle.register
    def _recorded(
        self, event: Incident.StatementRecorded, entry: LogEntry, cursor: BatchCursor
    ) -> None:
        s = event.statement
        if s["figures"] or s["stance"] in ANSWERING:
            source = s["source"]
            cursor.insert(
                _INSERT,
                (
                    s["id"], entry.incident_id, source["name"], source["side"], source["type"],
                    s["stance"], s["responds_to"], s["stated_at"],
                    entry.recorded, None,
                    json.dumps(s["figures"]), entry.position,
                ),
            )  # fmt: skip

    @handle.register
    def _withdrawn(
        self, event: Incident.StatementWithdrawn, entry: LogEntry, cursor: BatchCursor
    ) -> None:
        cursor.execute(
            "UPDATE claim_statements SET withdrawn_at = ?, withdrawn_pos = ? "
            "WHERE incident_id = ? AND statement_id = ?",
            (
                entry.recorded,
                entry.position,
                entry.incident_id,
                event.statement_id,
            ),
        )


@dataclass(frozen=True)
class ClaimsFilter:
    """Which groups to return, and as known when."""

    incident: str | None = None
    metric: str | None = None
    subject: str | None = None
    as_of: str | None = None
    clock: Clock = "recorded"
    at_position: int | None = None  # as the log stood at this position (exactly)


def query_claims(
    cursor: Cursor, where: ClaimsFilter, after: str | None = None, incidents: int = 100
) -> tuple[list[dict[str, Any]], str | None]:
    """Figure groups per incident, metric, subject, with range and contested flag.

    Pages by incident: the groups of up to ``incidents`` incidents whose id comes after
    ``after``; returns them with the last incident id when more may follow.
    """
    if where.at_position is not None:
        live_s, params = held_at("s", where.at_position, "recorded_pos", "withdrawn_pos")
        live_i, params_i = at_position("i", where.at_position)
    else:
        live_s, params = said("s", where.clock, where.as_of, "recorded_at", "withdrawn_at",
                              "stated_at")  # fmt: skip
        live_i, params_i = standing("i", where.clock, where.as_of)
    clauses = [live_s, live_i, "i.retired = 0"]
    params += params_i
    if where.incident is not None:
        clauses.append("s.incident_id = ?")
        params.append(where.incident)
    if after is not None:
        clauses.append("s.incident_id > ?")
        params.append(after)
    live = " AND ".join(clauses)
    cursor.execute(
        "SELECT DISTINCT s.incident_id FROM claim_statements s "
        f"JOIN claim_incidents i ON i.incident_id = s.incident_id WHERE {live} "
        "ORDER BY s.incident_id LIMIT ?",
        [*params, incidents + 1],
    )
    page = [row["incident_id"] for row in cursor.fetchall()]
    more, page = len(page) > incidents, page[:incidents]
    if not page:
        return [], None
    cursor.execute(
        f"SELECT {', '.join('s.' + c for c in COLUMNS)}, i.title, i.kind "
        "FROM claim_statements s JOIN claim_incidents i ON i.incident_id = s.incident_id "
        f"WHERE {live} AND s.incident_id IN ({', '.join('?' for _ in page)}) "
        "ORDER BY s.incident_id, s.stated_at, s.statement_id",
        [*params, *page],
    )
    by_incident: dict[str, list[dict[str, Any]]] = {}
    for row in cursor.fetchall():
        by_incident.setdefault(row["incident_id"], []).append(row)
    groups: list[dict[str, Any]] = []
    for rows in by_incident.values():
        groups += _groups(rows, where)
    return groups, page[-1] if more else None


def _superseded(rows: list[dict[str, Any]]) -> dict[str, set[tuple[str, str | None]] | None]:
    """Statement id → the (metric, subject) keys its source later corrected (None: retracted)."""
    by_id = {row["statement_id"]: row for row in rows}
    superseded: dict[str, set[tuple[str, str | None]] | None] = {}
    for row in rows:
        target = by_id.get(row["responds_to"] or "")
        if target is None or target["source_name"] != row["source_name"]:
            continue
        if row["stance"] == "retraction":
            superseded[target["statement_id"]] = None
        elif row["stance"] == "correction":
            corrected = superseded.setdefault(target["statement_id"], set())
            if corrected is not None:  # a retraction already took every figure
                corrected.update((f["metric"], f["subject"]) for f in json.loads(row["figures"]))
    return superseded


def _groups(rows: list[dict[str, Any]], where: ClaimsFilter) -> list[dict[str, Any]]:
    superseded = _superseded(rows)
    groups: dict[tuple[str, str | None], dict[str, Any]] = {}
    for row in rows:
        for figure in json.loads(row["figures"]):
            key = (figure["metric"], figure["subject"])
            if (where.metric and key[0] != where.metric) or (
                where.subject and key[1] != where.subject
            ):
                continue
            gone = superseded.get(row["statement_id"], set())
            group = groups.setdefault(key, _new_group(row, key))
            group["figures"].append(
                {
                    "statement_id": row["statement_id"],
                    "source": {
                        "name": row["source_name"],
                        "side": row["source_side"],
                        "type": row["source_type"],
                    },
                    "stance": row["stance"],
                    "qualifier": figure["qualifier"],
                    "value": figure["value"],
                    "low": figure["low"],
                    "high": figure["high"],
                    "stated_at": row["stated_at"],
                    "superseded": gone is None or key in gone,
                }
            )
    for group in groups.values():
        ids = {f["statement_id"] for f in group["figures"]}
        group["disputed_by"] = [
            {
                "statement_id": row["statement_id"],
                "source": {"name": row["source_name"], "side": row["source_side"],
                           "type": row["source_type"]},
                "responds_to": row["responds_to"],
                "stated_at": row["stated_at"],
            }
            for row in rows
            if row["stance"] == "denial" and row["responds_to"] in ids
        ]  # fmt: skip
        live = [f for f in group["figures"] if not f["superseded"]]
        lows = [f["low"] if f["low"] is not None else f["value"] for f in live]
        highs = [f["high"] if f["high"] is not None else f["value"] for f in live]
        group["low"] = min(lows) if lows else None
        group["high"] = max(highs) if highs else None
        values = {(f["value"], f["low"], f["high"]) for f in live}
        group["contested"] = len(values) > 1 or bool(group["disputed_by"])
    return [groups[key] for key in sorted(groups, key=lambda k: (k[0], k[1] or ""))]


def _new_group(row: dict[str, Any], key: tuple[str, str | None]) -> dict[str, Any]:
    return {
        "incident": {"id": row["incident_id"], "title": row["title"], "kind": row["kind"]},
        "metric": key[0],
        "subject": key[1],
        "figures": [],
    }

"""The `aggregates` read model: counts over time, kept finished as events arrive.

For every day, dimension and value it keeps how many incidents occurred, how many statements
were made, and, per metric, the figures given about the incidents of that day: how many, the
sum of their values (``best``) and of their lows and highs. Dimensions: ``all``, ``kind``,
``country``, ``admin1``, ``actor`` (each actor's name and side), and ``source_side`` (who made
a statement) or ``claimant_side`` (who gave a figure). Weeks and months are summed from days
at read time, so an answer reads a row per day and value — flat in the size of the log.

Each incident contributes through its current picture (:mod:`timeline.projections.versions`);
a retired one contributes nothing. When its picture changes, its whole contribution (and its
statements') is taken back and added anew; a statement adds or takes back its own. Figures
count every live statement's totals (see :func:`timeline.domain.values.totals`: GED's
parties' parts beside its best are left out);
corrections and retractions are not netted out, as in the claims model they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from eventsourcing.dispatch import singledispatchmethod

from timeline.domain import Incident, countries
from timeline.domain.values import totals as totals_of
from timeline.event_log import LogEntry
from timeline.projections import jsontext as json
from timeline.projections.framework import BatchCursor, Projection
from timeline.projections.sql import Cursor, Row
from timeline.projections.versions import IncidentVersions

COLUMNS = ("day", "kind", "country", "admin1", "actors", "datasets")
PICTURES = IncidentVersions("aggregate_incidents", COLUMNS)
DIMENSIONS = ("kind", "country", "admin1", "actor", "dataset")
Key = tuple[str, str, str, str]  # measure, dimension, day, value
Totals = list[Any]  # count, best, low, high


def _picture(fields: dict[str, Any]) -> tuple[Any, ...]:
    """The columns of a picture this model keeps."""
    place = fields.get("location") or {}
    actors = fields.get("actors") or []
    names = [a["name"] for a in actors] + [a["side"] for a in actors if a.get("side")]
    datasets = sorted(fields.get("external_ids") or {})
    return (fields["occurred"]["start"][:10], fields["kind"], countries.key_of(place),
            place.get("admin1"), json.dumps(sorted(set(names))), json.dumps(datasets))  # fmt: skip


def _dimensions(picture: Row) -> list[tuple[str, str]]:
    """The groups a picture counts in: one value of each dimension, "" (the null group) when
    it has none, so that a grouping's groups add up to the ungrouped count (the actor
    grouping counts an incident once per actor, the dataset grouping once per dataset that
    names it; an analyst's own incident is in the dataset grouping's null group)."""
    found = [("all", "")]
    found += [(d, picture[d] or "") for d in ("kind", "country", "admin1")]
    found += [("actor", name) for name in json.loads(picture["actors"])] or [("actor", "")]
    found += [("dataset", ns) for ns in json.loads(picture["datasets"])] or [("dataset", "")]
    return found


def incident_rows(picture: Row | None) -> list[tuple[Key, Totals]]:
    """What an incident's picture counts (nothing when retired, or when there is none)."""
    if picture is None or picture["retired"]:
        return []
    day = picture["day"]
    return [(("incidents", d, day, v), [1.0, 0.0, 0.0, 0.0]) for d, v in _dimensions(picture)]


def statement_rows(picture: Row | None, statement: Row) -> list[tuple[Key, Totals]]:
    """What a live statement counts, under its incident's picture."""
    if picture is None or picture["retired"] or statement["withdrawn"]:
        return []
    dims = _dimensions(picture)
    rows = [
        (("statements", d, statement["day"], v), [1.0, 0.0, 0.0, 0.0])
        for d, v in [*dims, ("source_side", statement["side"] or "")]
    ]
    for metric, best, low, high in json.loads(statement["figures"]):
        rows += [
            ((f"figure:{metric}", d, picture["day"], v), [1, best, low, high])
            for d, v in [*dims, ("claimant_side", statement["side"] or "")]
        ]
    return rows


class AggregatesProjection(Projection):
    """Keeps `aggregate_counts` (and what it needs to take contributions back) in step."""

    name = "aggregates"
    # 2: countries as ISO codes. 3: a null group for incidents without a value. 4: by dataset
    version = 4
    tables = ("aggregate_counts", "aggregate_statements", "aggregate_incidents")

    def create_tables(self, cursor: Cursor) -> None:
        """The counts, and each incident's pictures and statements."""
        real = "DOUBLE PRECISION" if cursor.dialect == "postgres" else "REAL"
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS aggregate_counts (measure TEXT NOT NULL, "
            "dimension TEXT NOT NULL, day TEXT NOT NULL, value TEXT NOT NULL, "
            f"count BIGINT NOT NULL, best {real} NOT NULL, low {real} NOT NULL, "
            f"high {real} NOT NULL, PRIMARY KEY (measure, dimension, day, value))"
        )
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS aggregate_statements (incident_id TEXT NOT NULL, "
            "statement_id TEXT NOT NULL, day TEXT NOT NULL, side TEXT NOT NULL, "
            "figures TEXT NOT NULL, withdrawn INTEGER NOT NULL, "
            "PRIMARY KEY (incident_id, statement_id))"
        )
        PICTURES.create(
            cursor, "day TEXT NOT NULL, kind TEXT NOT NULL, country TEXT, admin1 TEXT, "
            "actors TEXT NOT NULL, datasets TEXT NOT NULL",
        )  # fmt: skip

    def apply(self, cursor: Cursor, entries: Sequence[LogEntry]) -> None:
        """Apply a batch, summing its changes to the counts, written at the end."""
        self._deltas: dict[Key, Totals] = {}
        self._current: dict[str, Row | None] = {}
        super().apply(cursor, entries)

    def _add(self, rows: list[tuple[Key, Totals]], sign: int) -> None:
        for key, totals in rows:
            kept = self._deltas.setdefault(key, [0, 0, 0, 0])
            for n, amount in enumerate(totals):
                kept[n] += sign * amount

    def _now(self, cursor: BatchCursor, incident_id: str) -> Row | None:
        """The incident's current picture."""
        if incident_id not in self._current:
            cursor.execute(
                "SELECT * FROM aggregate_incidents WHERE incident_id = ? AND sys_to_pos IS NULL",
                (incident_id,),
            )
            self._current[incident_id] = cursor.fetchone()
        return self._current[incident_id]

    def _statements(self, cursor: BatchCursor, incident_id: str) -> list[Row]:
        cursor.execute("SELECT * FROM aggregate_statements WHERE incident_id = ?", (incident_id,))
        return cursor.fetchall()

    @singledispatchmethod
    def handle(self, event: object, entry: LogEntry, cursor: BatchCursor) -> None:
        """Events that change no count."""

    @handle.register
    def _reported(
        self, event: Incident.IncidentReported, entry: LogEntry, cursor: BatchCursor
    ) -> None:
        payload = _picture(entry.data)
        PICTURES.add(cursor, entry, False, payload)
        picture = dict(zip(COLUMNS, payload, strict=True))
        self._current[entry.incident_id] = {**picture, "retired": 0}
        self._add(incident_rows(self._current[entry.incident_id]), +1)

    @handle.register(Incident.IncidentAmended)
    @handle.register(Incident.IncidentRetired)
    @handle.register(Incident.IncidentRestored)
    def _pictured_again(self, event: Any, entry: LogEntry, cursor: BatchCursor) -> None:
        incident_id = entry.incident_id
        before = self._now(cursor, incident_id)
        latest = PICTURES.latest(cursor, incident_id)
        retired = bool(latest["retired"])
        payload = tuple(latest[c] for c in COLUMNS)
        if isinstance(event, Incident.IncidentAmended):
            if {"occurred", "kind", "location", "actors", "external_ids"} & event.changes.keys():
                place = {"country": latest["country"], "admin1": latest["admin1"]}
                actors = [{"name": name} for name in json.loads(latest["actors"])]
                datasets = dict.fromkeys(json.loads(latest["datasets"]), "")
                fields = {"occurred": {"start": latest["day"]}, "kind": latest["kind"],
                          "location": place, "actors": actors,
                          "external_ids": datasets}  # fmt: skip
                payload = _picture(fields | event.changes)
        else:
            retired = isinstance(event, Incident.IncidentRetired)
        PICTURES.add(cursor, entry, retired, payload)
        self._current.pop(incident_id, None)
        after = self._now(cursor, incident_id)
        if before == after:
            return
        statements = self._statements(cursor, incident_id)
        self._add(incident_rows(before), -1)
        self._add(incident_rows(after), +1)
        for statement in statements:
            self._add(statement_rows(before, statement), -1)
            self._add(statement_rows(after, statement), +1)

    @handle.register
    def _recorded(
        self, event: Incident.StatementRecorded, entry: LogEntry, cursor: BatchCursor
    ) -> None:
        s = event.statement
        row = _statement_row(s)
        cursor.insert(
            "INSERT INTO aggregate_statements (incident_id, statement_id, day, side, figures, "
            "withdrawn) VALUES (?, ?, ?, ?, ?, ?)",
            (entry.incident_id, s["id"], row["day"], row["side"], row["figures"], 0),
        )
        self._add(statement_rows(self._now(cursor, entry.incident_id), row), +1)

    @handle.register
    def _withdrawn(
        self, event: Incident.StatementWithdrawn, entry: LogEntry, cursor: BatchCursor
    ) -> None:
        cursor.execute(
            "SELECT * FROM aggregate_statements WHERE incident_id = ? AND statement_id = ?",
            (entry.incident_id, event.statement_id),
        )
        statement = cursor.fetchone()
        if statement is None or statement["withdrawn"]:
            return
        self._add(statement_rows(self._now(cursor, entry.incident_id), statement), -1)
        cursor.execute(
            "UPDATE aggregate_statements SET withdrawn = 1 WHERE incident_id = ? "
            "AND statement_id = ?",
            (entry.incident_id, event.statement_id),
        )

    def finish(self, cursor: BatchCursor) -> None:
        """Add the batch's changes to the counts; drop the rows that fell to nothing."""
        changed = [(*key, *totals) for key, totals in self._deltas.items() if any(totals)]
        cursor.executemany(
            "INSERT INTO aggregate_counts (measure, dimension, day, value, count, best, low, "
            "high) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (measure, dimension, day, value) "
            "DO UPDATE SET count = aggregate_counts.count + excluded.count, "
            "best = aggregate_counts.best + excluded.best, "
            "low = aggregate_counts.low + excluded.low, "
            "high = aggregate_counts.high + excluded.high",
            changed,
        )
        if any(totals[0] < 0 for totals in self._deltas.values()):
            cursor.execute("DELETE FROM aggregate_counts WHERE count = 0")


@dataclass(frozen=True)
class AggregatesFilter:
    """What to count, by which dimension, in which buckets, between which days."""

    measure: str = "incidents"
    group_by: str | None = None
    interval: str = "month"
    start: str | None = None  # a day, inclusive
    end: str | None = None


def bucket_of(day: str, interval: str) -> str:
    """The first day of the bucket a day falls in."""
    if interval == "month":
        return day[:7] + "-01"
    if interval == "week":
        moment = date.fromisoformat(day)
        return (moment - timedelta(days=moment.weekday())).isoformat()
    return day


def query_aggregates(cursor: Cursor, where: AggregatesFilter) -> list[dict[str, Any]]:
    """The buckets in time order, each group's count (and figures' sums) in it."""
    clauses, params = ["measure = ?", "dimension = ?"], [where.measure, where.group_by or "all"]
    if where.start is not None:
        clauses.append("day >= ?")
        params.append(where.start)
    if where.end is not None:
        clauses.append("day <= ?")
        params.append(where.end)
    cursor.execute(
        "SELECT day, value, count, best, low, high FROM aggregate_counts "
        f"WHERE {' AND '.join(clauses)} ORDER BY day, value",
        params,
    )
    return _buckets(
        (((where.measure, "", row["day"], row["value"]),
          [row["count"], row["best"], row["low"], row["high"]]) for row in cursor.fetchall()),
        where,
    )  # fmt: skip


def counted(incidents: Iterable[dict[str, Any]], where: AggregatesFilter) -> list[dict[str, Any]]:
    """The same buckets, counted from incidents as the API shows them (with their live
    statements) by the rules the projection keeps: for filters and times it cannot answer."""
    dimension = where.group_by or "all"

    def rows() -> Iterator[tuple[Key, Totals]]:
        for incident in incidents:
            place = incident.get("location") or {}
            picture = {
                "day": incident["occurred"]["start"][:10],
                "kind": incident["kind"],
                "country": countries.key_of(place),
                "admin1": place.get("admin1"),
                "actors": json.dumps(sorted(
                    {a["name"] for a in incident["actors"]}
                    | {a["side"] for a in incident["actors"] if a.get("side")}
                )),
                "datasets": json.dumps(sorted(incident.get("external_ids") or {})),
                "retired": 0,  # (the incidents given are those to count)
            }  # fmt: skip
            found = incident_rows(picture)
            for statement in incident.get("statements") or []:
                found += statement_rows(picture, _statement_row(statement))
            yield from (row for row in found if row[0][0] == where.measure
                        and row[0][1] == dimension and _within(row[0][2], where))  # fmt: skip

    return _buckets(rows(), where)


def _statement_row(statement: dict[str, Any]) -> Row:
    """A statement as this model keeps it."""
    figures = [
        [f["metric"], f["value"], f["low"] if f["low"] is not None else f["value"],
         f["high"] if f["high"] is not None else f["value"]]
        for f in totals_of(statement["figures"])
    ]  # fmt: skip
    return {"day": statement["stated_at"][:10], "side": statement["source"]["side"],
            "figures": json.dumps(figures), "withdrawn": 0}  # fmt: skip


def _within(day: str, where: AggregatesFilter) -> bool:
    return (where.start is None or day >= where.start) and (where.end is None or day <= where.end)


def _buckets(rows: Iterable[tuple[Key, Totals]], where: AggregatesFilter) -> list[dict[str, Any]]:
    buckets: dict[tuple[str, str], list[float]] = {}
    for (_, _, day, value), totals in rows:
        kept = buckets.setdefault((bucket_of(day, where.interval), value), [0, 0, 0, 0])
        for n, amount in enumerate(totals):
            kept[n] += amount
    figures = where.measure.startswith("figure:")
    return [
        {
            "start": start,
            "group": (value or None) if where.group_by else None,
            "count": int(totals[0]),
            **({"best": totals[1], "low": totals[2], "high": totals[3]} if figures else {}),
        }
        for (start, value), totals in sorted(buckets.items())
    ]

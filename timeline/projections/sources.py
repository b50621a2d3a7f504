"""The `sources` read model: each source's record — what it said, denied, and had denied.

A source is (name, side, type). Two tables:

- ``source_statements``: one row per statement (withdrawn ones keep their withdrawal time, so
  "as of" works), with how many live answers *from another side* deny it (``denials``) and
  dispute it in any stance but ``confirmation`` (``objections``);
- ``source_records``: one row per source with its counts, kept current as events arrive, so
  the listing reads finished rows in order and stays flat as the log grows.

The counts:

- ``statements``, ``claims``, ``denials_issued``, ``corrections``, ``retractions``: by stance;
- ``denied``: this source's statements answered by a ``denial`` from a source of another side;
- ``contradicted``: this source's statements answered by another side in any stance but
  ``confirmation`` (denials included);
- ``first_statement_at`` / ``last_statement_at``: by the time the source said them.

A new statement adds to its source's record (summed per source over a batch), and, when it
answers another side, may add to the answered source's ``denied``/``contradicted``. A
withdrawal recomputes the records it touches from ``source_statements``: rare, and a minimum
cannot be taken back incrementally. Answers and withdrawals are settled after a batch's inserts,
in log order. "As of" a past time groups ``source_statements`` at read time instead.

A retired incident's statements count for no source: ``source_incidents`` keeps each incident's
pictures on both clocks (:mod:`timeline.projections.versions`), ``source_statements.retired``
follows the current one, and the records its statements touch are recomputed when it changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.dispatch import singledispatchmethod

from timeline.domain import Incident
from timeline.event_log import LogEntry
from timeline.projections.framework import BatchCursor, Projection
from timeline.projections.sql import Cursor, Row
from timeline.projections.versions import (
    Clock,
    IncidentVersions,
    at_position,
    held_at,
    said,
    standing,
)

COUNTS = (
    "statements",
    "claims",
    "denials_issued",
    "corrections",
    "retractions",
    "denied",
    "contradicted",
)
BY_STANCE = (
    ("claim", "claims"),
    ("denial", "denials_issued"),
    ("correction", "corrections"),
    ("retraction", "retractions"),
)
RECORD_COLUMNS = ("name", "side", "type", *COUNTS, "first_statement_at", "last_statement_at")
_KEY = "source_name = ? AND source_side = ? AND source_type = ?"

Source = tuple[str, str, str]
PICTURES = IncidentVersions("source_incidents", ())


class SourcesProjection(Projection):
    """Keeps `source_statements` and `source_records` in step with the log."""

    name = "sources"
    # 4: retired incidents count for no source; the stated clock. 5: log positions
    version = 5
    tables = ("source_statements", "source_records", "source_incidents")

    def create_tables(self, cursor: Cursor) -> None:
        """Statements with their answer counts; one record per source."""
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS source_statements (statement_id TEXT NOT NULL, "
            "incident_id TEXT NOT NULL, source_name TEXT NOT NULL, "
            "source_side TEXT NOT NULL, source_type TEXT NOT NULL, "
            "stance TEXT NOT NULL, responds_to TEXT, stated_at TEXT NOT NULL, "
            "recorded_at TEXT NOT NULL, withdrawn_at TEXT, "
            "recorded_pos BIGINT NOT NULL, withdrawn_pos BIGINT, "
            "denials INTEGER NOT NULL DEFAULT 0, objections INTEGER NOT NULL DEFAULT 0, "
            "retired INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (incident_id, statement_id))"
        )
        PICTURES.create(cursor, "")
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS source_statements_answers "
            "ON source_statements (incident_id, responds_to)"
        )
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS source_statements_source "
            "ON source_statements (source_name, source_side, source_type)"
        )
        counts = ", ".join(f"{c} INTEGER NOT NULL" for c in COUNTS)
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS source_records (name TEXT NOT NULL, side TEXT NOT NULL, "
            f"type TEXT NOT NULL, {counts}, first_statement_at TEXT NOT NULL, "
            "last_statement_at TEXT NOT NULL, PRIMARY KEY (name, side, type))"
        )
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS source_records_order "
            "ON source_records (statements DESC, name, side, type)"
        )

    def apply(self, cursor: Cursor, entries: Sequence[LogEntry]) -> None:
        """Apply a batch: statements are inserted as they come, their counts summed per
        source; answers and withdrawals are settled at the end, in log order."""
        self._added: dict[Source, list[Any]] = {}
        # ("answer", incident, answered statement, (side, stance)) or
        # ("withdrawal", incident, withdrawn statement, (recorded time, position))
        self._settle: list[tuple[str, str, str, Any]] = []
        # Incidents whose current picture may have changed, or that gained statements.
        self._pictured: set[str] = set()
        self._new: set[str] = set()
        self._spoken: set[str] = set()
        super().apply(cursor, entries)

    def finish(self, cursor: BatchCursor) -> None:
        """Add each source's new counts, then settle answers and withdrawals in log order."""
        cursor.executemany(_ADD, [(*key, *added) for key, added in self._added.items()])
        recount: set[Source] = set()
        answers: list[tuple[str, str, str, str]] = []  # a run of answers, settled together
        for kind, incident_id, statement_id, detail in self._settle:
            if kind == "answer":
                answers.append((incident_id, statement_id, *detail))
            else:
                _answer_all(cursor, answers)
                answers = []
                recount |= _withdraw(cursor, incident_id, statement_id, detail)
        _answer_all(cursor, answers)
        recount |= self._follow_retirement(cursor)
        for source in sorted(recount):
            _recount(cursor, source)

    def _follow_retirement(self, cursor: BatchCursor) -> set[Source]:
        """Mark the statements of incidents whose current picture is retired (and unmark
        those restored); returns the sources whose records that changes."""
        candidates = sorted(self._pictured | (self._spoken - self._new))
        recount: set[Source] = set()
        for start in range(0, len(candidates), 500):
            chunk = candidates[start : start + 500]
            cursor.execute(
                "SELECT incident_id, retired FROM source_incidents WHERE sys_to_pos IS NULL "
                f"AND incident_id IN ({', '.join('?' for _ in chunk)})",
                chunk,
            )
            for row in cursor.fetchall():
                incident_id, retired = row["incident_id"], int(row["retired"])
                if not retired and incident_id not in self._pictured:
                    continue  # new statements of a live incident: counted already
                changed = cursor.execute(
                    "UPDATE source_statements SET retired = ? "
                    "WHERE incident_id = ? AND retired <> ?",
                    (retired, incident_id, retired),
                )
                if changed:
                    cursor.execute(
                        "SELECT DISTINCT source_name, source_side, source_type "
                        "FROM source_statements WHERE incident_id = ?",
                        (incident_id,),
                    )
                    recount |= {
                        (r["source_name"], r["source_side"], r["source_type"])
                        for r in cursor.fetchall()
                    }
        return recount

    @singledispatchmethod
    def handle(self, event: object, entry: LogEntry, cursor: BatchCursor) -> None:
        """Events that change no source's record."""

    @handle.register
    def _reported(
        self, event: Incident.IncidentReported, entry: LogEntry, cursor: BatchCursor
    ) -> None:
        PICTURES.add(cursor, entry, False, ())
        self._new.add(entry.incident_id)

    @handle.register(Incident.IncidentAmended)
    @handle.register(Incident.IncidentRetired)
    @handle.register(Incident.IncidentRestored)
    def _pictured_again(self, event: Any, entry: LogEntry, cursor: BatchCursor) -> None:
        if isinstance(event, Incident.IncidentAmended):
            retired = bool(PICTURES.latest(cursor, entry.incident_id)["retired"])
        else:
            retired = isinstance(event, Incident.IncidentRetired)
        PICTURES.add(cursor, entry, retired, ())
        self._pictured.add(entry.incident_id)

    @handle.register
    def _recorded(
        self, event: Incident.StatementRecorded, entry: LogEntry, cursor: BatchCursor
    ) -> None:
        self._spoken.add(entry.incident_id)
        s = event.statement
        source = s["source"]
        key = (source["name"], source["side"], source["type"])
        cursor.insert(
            "INSERT INTO source_statements (statement_id, incident_id, source_name, "
            "source_side, source_type, stance, responds_to, stated_at, recorded_at, "
            "recorded_pos) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (s["id"], entry.incident_id, *key, s["stance"], s["responds_to"], s["stated_at"],
             entry.recorded, entry.position),
        )  # fmt: skip
        added = self._added.get(key)
        if added is None:  # statements, by stance…, denied, contradicted, first, last
            added = self._added[key] = [0] * (1 + len(BY_STANCE) + 2) + [s["stated_at"]] * 2
        added[0] += 1
        for index, (stance, _) in enumerate(BY_STANCE, start=1):
            added[index] += s["stance"] == stance
        added[-2] = min(added[-2], s["stated_at"])
        added[-1] = max(added[-1], s["stated_at"])
        if s["responds_to"] is not None:
            answer = (source["side"], s["stance"])
            self._settle.append(("answer", entry.incident_id, s["responds_to"], answer))

    @handle.register
    def _withdrawn(
        self, event: Incident.StatementWithdrawn, entry: LogEntry, cursor: BatchCursor
    ) -> None:
        withdrawal = (entry.recorded, entry.position)
        self._settle.append(("withdrawal", entry.incident_id, event.statement_id, withdrawal))


def _withdraw(
    cursor: BatchCursor, incident_id: str, statement_id: str, withdrawal: tuple[str, int]
) -> set[Source]:
    """Mark a statement withdrawn and uncount it as an answer; returns the sources to recount."""
    cursor.execute(
        "SELECT source_name, source_side, source_type, stance, responds_to "
        "FROM source_statements WHERE incident_id = ? AND statement_id = ?",
        (incident_id, statement_id),
    )
    row = cursor.fetchone()
    if row is None:
        return set()
    cursor.execute(
        "UPDATE source_statements SET withdrawn_at = ?, withdrawn_pos = ? "
        "WHERE incident_id = ? AND statement_id = ?",
        (*withdrawal, incident_id, statement_id),
    )
    touched = {(row["source_name"], row["source_side"], row["source_type"])}
    if row["responds_to"] is not None:
        side, stance = row["source_side"], row["stance"]
        touched |= _answer_all(cursor, [(incident_id, row["responds_to"], side, stance)], -1)
    return touched


# Add one statement's counts to its source's record (first and last by the time it was said).
_ADD = (
    f"INSERT INTO source_records ({', '.join(RECORD_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in RECORD_COLUMNS)}) "
    "ON CONFLICT (name, side, type) DO UPDATE SET "
    + ", ".join(f"{c} = source_records.{c} + excluded.{c}" for c in COUNTS)
    + ", first_statement_at = CASE WHEN excluded.first_statement_at < "
    "source_records.first_statement_at THEN excluded.first_statement_at "
    "ELSE source_records.first_statement_at END, "
    "last_statement_at = CASE WHEN excluded.last_statement_at > "
    "source_records.last_statement_at THEN excluded.last_statement_at "
    "ELSE source_records.last_statement_at END"
)


def _answer_all(
    cursor: Cursor, answers: Sequence[tuple[str, str, str, str]], step: int = 1
) -> set[Source]:
    """Count (``step`` +1) or uncount (-1) a run of answers (incident, answered statement,
    side, stance), in their order, against live statements: in one read and two writes for
    the whole run (one by one, three round trips an answer were most of a PostgreSQL
    catch-up's waiting). When a statement's count of denials or objections crosses zero, its
    source's ``denied`` or ``contradicted`` changes by one. An answer from the statement's
    own side, or to a withdrawn one, does not count. Returns the answered sources.
    """
    if not answers:
        return set()
    targets: dict[tuple[str, str], dict[str, Any]] = {}
    pairs = sorted({(incident_id, target_id) for incident_id, target_id, _, _ in answers})
    for start in range(0, len(pairs), 400):
        chunk = pairs[start : start + 400]
        cursor.execute(
            "SELECT incident_id, statement_id, source_name, source_side, source_type, denials, "
            "objections, retired FROM source_statements WHERE withdrawn_at IS NULL AND "
            f"(incident_id, statement_id) IN (VALUES {', '.join('(?, ?)' for _ in chunk)})",
            [value for pair in chunk for value in pair],
        )
        targets |= {(r["incident_id"], r["statement_id"]): dict(r) for r in cursor.fetchall()}
    statements: dict[tuple[str, str], list[int]] = {}
    records: dict[Source, list[int]] = {}
    answered: set[Source] = set()
    for incident_id, target_id, side, stance in answers:
        target = targets.get((incident_id, target_id))
        if target is None or target["source_side"] == side:
            continue
        key = (target["source_name"], target["source_side"], target["source_type"])
        answered.add(key)
        denial = step if stance == "denial" else 0
        objection = step if stance != "confirmation" else 0
        if not (denial or objection):
            continue
        moved = statements.setdefault((incident_id, target_id), [0, 0])
        moved[0] += denial
        moved[1] += objection
        denied = _crossed(int(target["denials"]), denial)
        contradicted = _crossed(int(target["objections"]), objection)
        target["denials"] = int(target["denials"]) + denial
        target["objections"] = int(target["objections"]) + objection
        if (denied or contradicted) and not int(target["retired"]):
            counts = records.setdefault(key, [0, 0])
            counts[0] += denied
            counts[1] += contradicted
    cursor.executemany(
        "UPDATE source_statements SET denials = denials + ?, objections = objections + ? "
        "WHERE incident_id = ? AND statement_id = ?",
        [(d, o, i, t) for (i, t), (d, o) in statements.items()],
    )
    cursor.executemany(
        "UPDATE source_records SET denied = denied + ?, contradicted = contradicted + ? "
        "WHERE name = ? AND side = ? AND type = ?",
        [(d, c, *key) for key, (d, c) in records.items()],
    )
    return answered


def _crossed(count: int, step: int) -> int:
    """How a count of answers moving by ``step`` changes the number of statements it marks:
    +1 when it leaves zero, -1 when it returns to zero, else 0."""
    if count == 0 and step > 0:
        return 1
    if count == 1 and step < 0:
        return -1
    return 0


def _recount(cursor: BatchCursor, source: Source) -> None:
    """Rebuild one source's record from its live statements (removed when it has none)."""
    stances = ", ".join(
        f"SUM(CASE WHEN stance = '{stance}' THEN 1 ELSE 0 END) AS {column}"
        for stance, column in BY_STANCE
    )
    cursor.execute(
        f"SELECT COUNT(*) AS statements, {stances}, "
        "SUM(CASE WHEN denials > 0 THEN 1 ELSE 0 END) AS denied, "
        "SUM(CASE WHEN objections > 0 THEN 1 ELSE 0 END) AS contradicted, "
        "MIN(stated_at) AS first_statement_at, MAX(stated_at) AS last_statement_at "
        f"FROM source_statements WHERE {_KEY} AND withdrawn_at IS NULL AND retired = 0",
        source,
    )
    row = cursor.fetchone()
    cursor.execute("DELETE FROM source_records WHERE name = ? AND side = ? AND type = ?", source)
    if row is not None and int(row["statements"]):
        cursor.execute(
            f"INSERT INTO source_records ({', '.join(RECORD_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in RECORD_COLUMNS)})",
            (*source, *(int(row[c] or 0) for c in COUNTS), row["first_statement_at"],
             row["last_statement_at"]),
        )  # fmt: skip


@dataclass(frozen=True)
class SourcesFilter:
    """One source's name (all sources when None), as known when (now when None)."""

    name: str | None = None
    as_of: str | None = None
    clock: Clock = "recorded"
    at_position: int | None = None  # as the log stood at this position (exactly)


def _said(alias: str, where: SourcesFilter) -> tuple[str, list[Any]]:
    if where.at_position is not None:
        return held_at(alias, where.at_position, "recorded_pos", "withdrawn_pos")
    return said(alias, where.clock, where.as_of, "recorded_at", "withdrawn_at", "stated_at")


def _grouped_as_of(where: SourcesFilter) -> tuple[str, list[Any]]:
    """Every source's record as known at the filter's time or position, grouped from the
    statements (a subquery) of incidents whose picture then was not retired."""
    live_s, params = _said("s", where)
    live_p, params_p = (
        at_position("p", where.at_position)
        if where.at_position is not None
        else standing("p", where.clock, where.as_of)
    )
    live_r, params_r = _said("r", where)
    answered = (
        "SELECT 1 FROM source_statements r WHERE r.incident_id = s.incident_id "
        "AND r.responds_to = s.statement_id "
        f"AND r.source_side <> s.source_side AND {live_r} AND "
    )
    stances = ", ".join(
        f"SUM(CASE WHEN s.stance = '{stance}' THEN 1 ELSE 0 END) AS {column}"
        for stance, column in BY_STANCE
    )
    sql = (
        "SELECT s.source_name AS name, s.source_side AS side, s.source_type AS type, "
        f"COUNT(*) AS statements, {stances}, "
        f"SUM(CASE WHEN EXISTS ({answered} r.stance = 'denial') THEN 1 ELSE 0 END) AS denied, "
        f"SUM(CASE WHEN EXISTS ({answered} r.stance <> 'confirmation') THEN 1 ELSE 0 END) "
        "AS contradicted, "
        "MIN(s.stated_at) AS first_statement_at, MAX(s.stated_at) AS last_statement_at "
        "FROM source_statements s JOIN source_incidents p ON p.incident_id = s.incident_id "
        f"WHERE {live_s} AND {live_p} AND p.retired = 0 "
        "GROUP BY s.source_name, s.source_side, s.source_type"
    )
    return sql, [*params_r, *params_r, *params, *params_p]


def query_sources(
    cursor: Cursor, where: SourcesFilter, after: Sequence[Any] | None = None, limit: int = 100
) -> list[Row]:
    """Sources' records, most prolific first, after a paging key (statements, name, side, type).

    Now: the kept records, read in index order. As of a past time: grouped from the statements.
    """
    params: list[Any]
    if where.as_of is None and where.at_position is None:
        table, params = "source_records", []
    else:
        grouped, params = _grouped_as_of(where)
        table = f"({grouped})"
    clauses = ["1 = 1"]
    if where.name is not None:
        clauses.append("g.name = ?")
        params.append(where.name)
    if after is not None:
        clauses.append(
            "g.statements <= ? AND (g.statements < ? OR (g.name, g.side, g.type) > (?, ?, ?))"
        )
        params += [int(after[0]), int(after[0]), *after[1:]]
    cursor.execute(
        f"SELECT {', '.join('g.' + c for c in RECORD_COLUMNS)} FROM {table} g "
        f"WHERE {' AND '.join(clauses)} "
        "ORDER BY g.statements DESC, g.name, g.side, g.type LIMIT ?",
        [*params, limit],
    )
    return [{**row, **{k: int(row[k] or 0) for k in COUNTS}} for row in cursor.fetchall()]

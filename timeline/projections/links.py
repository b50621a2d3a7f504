"""The `links` read model: proposals of the same event across datasets, and the links held.

- ``link_pictures``: each incident's pictures (:mod:`timeline.projections.versions`), with the
  fields matching reads (kind, occurred, location, actors, external ids) and its title;
- ``link_footprints`` and ``link_keys``: the current footprint of every live incident, filed
  under its blocking keys (:mod:`timeline.domain.matching`) per dataset, so a new or changed
  incident is compared only with other datasets' incidents near it in space and time
  (``link_namespaces``: the datasets seen);
- ``link_proposals``: the current proposals (recomputed whenever either incident changes);
  a pair decided since is left out of the queue when read, not deleted, so undoing a decision
  brings its proposal back;
- ``link_decisions``: every decision on a pair, valid on the recorded clock from when it was
  recorded until the next, and on the stated clock from its stated time until the next in
  stated order: "which links did we hold at T?";
- ``link_members``: the groups the links held now make (each incident with its group's id,
  the smallest id in it), for ``dedupe=linked`` and the cluster view.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import Any

from eventsourcing.dispatch import singledispatchmethod

from timeline.domain import Incident
from timeline.domain.link import Link
from timeline.domain.matching import Footprint, compare, filed_under, footprint, looked_up_under
from timeline.event_log import LogEntry
from timeline.projections import jsontext as json
from timeline.projections.framework import BatchCursor, Projection
from timeline.projections.sql import Cursor, Row
from timeline.projections.versions import Clock, IncidentVersions

PICTURES = IncidentVersions("link_pictures", ("fields",))
MATCHED_FIELDS = ("title", "kind", "occurred", "location", "actors", "external_ids")
_DECISION = (
    "INSERT INTO link_decisions (stream, first, second, version, decision, status, reason, by_key, "
    "by_name, score, reasons, sys_from_pos, sys_from, stated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class LinksProjection(Projection):
    """Keeps proposals, decisions and groups in step with the log."""

    name = "links"
    version = 1
    tables = (
        "link_pictures", "link_footprints", "link_keys", "link_namespaces", "link_proposals",
        "link_decisions", "link_members",
    )  # fmt: skip

    def create_tables(self, cursor: Cursor) -> None:
        """Create the tables and the indexes their queries use."""
        key = 'TEXT COLLATE "C"' if cursor.dialect == "postgres" else "TEXT"
        real = "DOUBLE PRECISION" if cursor.dialect == "postgres" else "REAL"
        PICTURES.create(cursor, "fields TEXT NOT NULL")
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS link_footprints (incident_id {key} PRIMARY KEY, "
            "footprint TEXT NOT NULL, summary TEXT NOT NULL, namespaces TEXT NOT NULL)"
        )
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS link_keys (cell {key} NOT NULL, day INTEGER NOT NULL, "
            f"incident_id {key} NOT NULL, PRIMARY KEY (cell, day, incident_id))"
        )
        cursor.execute("CREATE INDEX IF NOT EXISTS link_keys_incident ON link_keys (incident_id)")
        cursor.execute(f"CREATE TABLE IF NOT EXISTS link_namespaces (namespace {key} PRIMARY KEY)")
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS link_proposals (first {key} NOT NULL, "
            f"second {key} NOT NULL, score {real} NOT NULL, reasons TEXT NOT NULL, "
            f"position BIGINT NOT NULL, proposed_at {key} NOT NULL, PRIMARY KEY (first, second))"
        )
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS link_proposals_second ON link_proposals (second)"
        )
        cursor.execute("CREATE INDEX IF NOT EXISTS link_proposals_score ON link_proposals (score)")
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS link_decisions (stream {key} NOT NULL, "
            f"first {key} NOT NULL, second {key} NOT NULL, version INTEGER NOT NULL, "
            "decision TEXT NOT NULL, "
            f"status TEXT, reason TEXT NOT NULL, by_key TEXT, by_name TEXT, score {real}, "
            f"reasons TEXT, sys_from_pos BIGINT NOT NULL, sys_from {key} NOT NULL, "
            f"sys_to_pos BIGINT, sys_to {key}, stated_at {key} NOT NULL, stated_to {key}, "
            "PRIMARY KEY (first, second, version))"
        )
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS link_decisions_second ON link_decisions (second)"
        )
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS link_decisions_stream ON link_decisions (stream)"
        )
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS link_members (incident_id {key} PRIMARY KEY, "
            f"cluster_id {key} NOT NULL)"
        )
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS link_members_cluster ON link_members (cluster_id)"
        )

    def apply(self, cursor: Cursor, entries: Sequence[LogEntry]) -> None:
        """Apply a batch; incidents and pairs it touched are worked out once, at its end."""
        # Each touched incident's last recorded fields, and that version (what the next event
        # changes; also the current picture's fields, when that version is the current one).
        self._fields: dict[str, dict[str, Any]] = {}
        self._versions: dict[str, int] = {}
        self._changed: dict[str, LogEntry] = {}
        self._decided_streams: set[str] = set()
        self._pairs: dict[str, tuple[str, str]] = {}
        super().apply(cursor, entries)

    # ------------------------------------------------------------------ incidents

    def _picture(self, cursor: BatchCursor, entry: LogEntry, fields: dict[str, Any]) -> None:
        self._fields[entry.incident_id] = fields
        self._versions[entry.incident_id] = entry.version
        PICTURES.add(cursor, entry, fields["retired"] is not None, (json.dumps(fields),))
        self._changed[entry.incident_id] = entry

    def _latest(self, cursor: BatchCursor, incident_id: str) -> dict[str, Any]:
        if incident_id not in self._fields:
            latest = PICTURES.latest(cursor, incident_id)
            self._fields[incident_id] = json.loads(latest["fields"])
            self._versions[incident_id] = int(latest["version"])
        return self._fields[incident_id]

    def _current_fields(self, cursor: BatchCursor, incidents: list[str]) -> dict[str, Any]:
        """The fields of each incident's current picture (None: retired), read in one query a
        chunk; the batch's own decoded fields where the current picture is the last one."""
        found: dict[str, Any] = {}
        for start in range(0, len(incidents), 500):
            chunk = incidents[start : start + 500]
            cursor.execute(
                "SELECT incident_id, version, retired, fields FROM link_pictures "
                f"WHERE sys_to_pos IS NULL AND incident_id IN ({', '.join('?' for _ in chunk)})",
                chunk,
            )
            for row in cursor.fetchall():
                incident_id = row["incident_id"]
                if row["retired"]:
                    found[incident_id] = None
                elif self._versions.get(incident_id) == int(row["version"]):
                    found[incident_id] = self._fields[incident_id]
                else:  # a version published earlier arrived later: it is not the current one
                    found[incident_id] = json.loads(row["fields"])
        return found

    @singledispatchmethod
    def handle(self, event: object, entry: LogEntry, cursor: BatchCursor) -> None:
        """Events that change no footprint or link."""

    @handle.register
    def _reported(
        self, event: Incident.IncidentReported, entry: LogEntry, cursor: BatchCursor
    ) -> None:
        fields = {name: entry.data.get(name) for name in MATCHED_FIELDS}
        self._picture(cursor, entry, fields | {"retired": None})

    @handle.register
    def _amended(
        self, event: Incident.IncidentAmended, entry: LogEntry, cursor: BatchCursor
    ) -> None:
        changes = {k: v for k, v in event.changes.items() if k in MATCHED_FIELDS}
        self._picture(cursor, entry, self._latest(cursor, entry.incident_id) | changes)

    @handle.register
    def _retired(
        self, event: Incident.IncidentRetired, entry: LogEntry, cursor: BatchCursor
    ) -> None:
        latest = self._latest(cursor, entry.incident_id)
        self._picture(cursor, entry, latest | {"retired": event.retirement["reason"]})

    @handle.register
    def _restored(
        self, event: Incident.IncidentRestored, entry: LogEntry, cursor: BatchCursor
    ) -> None:
        self._picture(cursor, entry, self._latest(cursor, entry.incident_id) | {"retired": None})

    # ------------------------------------------------------------------ decisions

    @handle.register
    def _opened(self, event: Link.PairOpened, entry: LogEntry, cursor: BatchCursor) -> None:
        self._pairs[entry.incident_id] = (event.first, event.second)

    @handle.register
    def _decided(self, event: Link.Decided, entry: LogEntry, cursor: BatchCursor) -> None:
        stream = entry.incident_id
        if stream not in self._pairs:  # opened in an earlier batch
            cursor.execute(
                "SELECT first, second FROM link_decisions WHERE stream = ? LIMIT 1", (stream,)
            )
            row = cursor.fetchone()
            assert row is not None, f"decision on pair {stream} that was never opened"
            self._pairs[stream] = (row["first"], row["second"])
        first, second = self._pairs[stream]
        by = event.by or {}
        cursor.insert(
            _DECISION,
            (stream, first, second, entry.version, event.decision, _status(event.decision),
             event.reason, by.get("key_id"), by.get("name"), event.score,
             json.dumps(event.reasons) if event.reasons is not None else None,
             entry.position, entry.recorded, event.stated_at or entry.recorded),
        )  # fmt: skip
        self._decided_streams.add(stream)

    # ------------------------------------------------------------------ at the batch's end

    def finish(self, cursor: BatchCursor) -> None:
        """Refile and re-propose each changed incident; re-time and regroup each decided pair."""
        cursor.flush()
        self._refile(cursor)
        pairs = {self._pairs[stream] for stream in self._decided_streams}
        for first, second in sorted(pairs):
            _retime(cursor, first, second)
        if pairs:
            regroup(cursor, {i for pair in pairs for i in pair})

    def _refile(self, cursor: BatchCursor) -> None:
        changed = sorted(self._changed)
        for start in range(0, len(changed), 500):
            chunk = changed[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            cursor.execute(f"DELETE FROM link_keys WHERE incident_id IN ({marks})", chunk)
            cursor.execute(f"DELETE FROM link_footprints WHERE incident_id IN ({marks})", chunk)
            cursor.execute(
                f"DELETE FROM link_proposals WHERE first IN ({marks}) OR second IN ({marks})",
                [*chunk, *chunk],
            )
        fresh: list[Footprint] = []
        current = self._current_fields(cursor, changed)
        for incident_id in changed:
            fields = current.get(incident_id)
            found = footprint({"id": incident_id, **fields}) if fields is not None else None
            if fields is not None and found is not None:
                summary = _summary(incident_id, fields, found)
                fresh.append(found)
                cursor.insert(
                    "INSERT INTO link_footprints (incident_id, footprint, summary, namespaces) "
                    "VALUES (?, ?, ?, ?)",
                    (incident_id, json.dumps(found.to_dict()), json.dumps(summary),
                     "|" + "|".join(sorted(found.namespaces)) + "|"),
                )  # fmt: skip
                for namespace in sorted(found.namespaces):  # (never looked up by its own)
                    cursor.insert(
                        "INSERT INTO link_namespaces (namespace) VALUES (?) ON CONFLICT DO NOTHING",
                        (namespace,),
                    )
                    for cell, day in filed_under(found):
                        cursor.insert(
                            "INSERT INTO link_keys (cell, day, incident_id) VALUES (?, ?, ?)",
                            (f"{namespace}|{cell}", day, incident_id),
                        )
        cursor.flush()
        proposed: set[tuple[str, str]] = set()
        cursor.execute("SELECT namespace FROM link_namespaces ORDER BY namespace")
        namespaces = [row["namespace"] for row in cursor.fetchall()]
        for fp in fresh:
            for other in nearby(cursor, fp, namespaces):
                proposal = compare(fp, other)
                if proposal is None or (proposal.first, proposal.second) in proposed:
                    continue
                proposed.add((proposal.first, proposal.second))
                # Proposed by the later of the two changes (as if each came in its own batch)
                changes = [self._changed.get(i) for i in (proposal.first, proposal.second)]
                entry = max((c for c in changes if c is not None), key=lambda c: c.position)
                cursor.insert(
                    "INSERT INTO link_proposals (first, second, score, reasons, position, "
                    "proposed_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (proposal.first, proposal.second, proposal.score,
                     json.dumps(list(proposal.reasons)), entry.position, entry.recorded),
                )  # fmt: skip


def _status(decision: str) -> str | None:
    return {"link": "linked", "reject": "rejected"}.get(decision)


def _summary(incident_id: str, fields: dict[str, Any], found: Footprint) -> dict[str, Any]:
    """What a reviewer reads of an incident: title, kind, start, place, its datasets' ids."""
    return {
        "id": incident_id,
        "title": fields.get("title"),
        "kind": fields["kind"],
        "start": fields["occurred"]["start"],
        "place": (fields.get("location") or {}).get("name"),
        "datasets": list(found.labels),
    }


def nearby(cursor: Cursor | BatchCursor, fp: Footprint, namespaces: list[str]) -> list[Footprint]:
    """The live footprints of the other datasets (of ``namespaces``) filed where ``fp`` looks
    (its blocking keys).

    Keys are filed per dataset, so an incident is never read for the rows of its own dataset,
    however many share its place and day (a city shelled daily has hundreds).
    """
    others = [namespace for namespace in namespaces if namespace not in fp.namespaces]
    if not others:
        return []
    places, first, last = looked_up_under(fp)
    cells = [f"{namespace}|{cell}" for namespace in others for cell in places]
    found: dict[str, Footprint] = {}
    for start in range(0, len(cells), 200):
        chunk = cells[start : start + 200]
        cursor.execute(
            "SELECT DISTINCT f.incident_id, f.footprint FROM link_keys k JOIN link_footprints f "
            f"ON f.incident_id = k.incident_id WHERE k.cell IN ({', '.join('?' for _ in chunk)}) "
            "AND (k.day = -1 OR k.day BETWEEN ? AND ?)",
            [*chunk, first, last],
        )
        for row in cursor.fetchall():
            if row["incident_id"] != fp.incident_id:
                found[row["incident_id"]] = Footprint.from_dict(json.loads(row["footprint"]))
    return list(found.values())


def _retime(cursor: BatchCursor, first: str, second: str) -> None:
    """Set when each decision on the pair stood, on both clocks."""
    cursor.execute(
        "SELECT version, sys_from_pos, sys_from, stated_at FROM link_decisions "
        "WHERE first = ? AND second = ? ORDER BY version",
        (first, second),
    )
    rows = cursor.fetchall()
    by_stated = sorted(rows, key=lambda r: (r["stated_at"], r["version"]))
    stated_to = {r["version"]: n["stated_at"] for r, n in pairwise(by_stated)}
    for row, following in zip(rows, [*rows[1:], None], strict=True):
        cursor.execute(
            "UPDATE link_decisions SET sys_to_pos = ?, sys_to = ?, stated_to = ? "
            "WHERE first = ? AND second = ? AND version = ?",
            (following and following["sys_from_pos"], following and following["sys_from"],
             stated_to.get(row["version"]), first, second, row["version"]),
        )  # fmt: skip


def regroup(cursor: BatchCursor, touched: Iterable[str]) -> None:
    """Recompute the groups the current links make around ``touched`` incidents."""
    done: set[str] = set()
    for incident_id in sorted(touched):
        if incident_id in done:
            continue
        group = component(cursor, incident_id)
        done |= group
        marks = ", ".join("?" for _ in group)
        cursor.execute(f"DELETE FROM link_members WHERE incident_id IN ({marks})", sorted(group))
        if len(group) > 1:
            cluster = min(group)
            for member in sorted(group):
                cursor.insert(
                    "INSERT INTO link_members (incident_id, cluster_id) VALUES (?, ?)",
                    (member, cluster),
                )
        cursor.flush()


def component(
    cursor: Cursor | BatchCursor,
    incident_id: str,
    clock: Clock = "recorded",
    at: str | None = None,
    position: int | None = None,
) -> set[str]:
    """The incidents linked to ``incident_id``, directly or through others (itself included),
    by the links held now, at ``at`` on ``clock``, or at a log ``position``."""
    group, frontier = {incident_id}, [incident_id]
    held, params = holding(clock, at, position)
    while frontier:
        marks = ", ".join("?" for _ in frontier)
        cursor.execute(
            "SELECT first, second FROM link_decisions WHERE status = 'linked' AND "
            f"{held} AND (first IN ({marks}) OR second IN ({marks}))",
            [*params, *frontier, *frontier],
        )
        found = {i for row in cursor.fetchall() for i in (row["first"], row["second"])}
        frontier = sorted(found - group)
        group |= found
    return group


def holding(clock: Clock, at: str | None, position: int | None = None) -> tuple[str, list[Any]]:
    """SQL: a decision row stood now, at ``at`` on ``clock``, or once the log reached
    ``position``."""
    if position is not None:
        return "sys_from_pos <= ? AND (sys_to_pos IS NULL OR sys_to_pos > ?)", [position, position]
    if at is None:
        return "sys_to_pos IS NULL", []
    if clock == "recorded":
        return "sys_from <= ? AND (sys_to IS NULL OR sys_to > ?)", [at, at]
    return "stated_at <= ? AND (stated_to IS NULL OR stated_to > ?)", [at, at]


# The links held, as answers show them (the conditions follow the WHERE).
_LINKED = (
    "SELECT first, second, reason, by_key, by_name, score, reasons, sys_from_pos, sys_from, "
    "stated_at FROM link_decisions WHERE status = 'linked' AND"
)


def held_links(
    cursor: Cursor, incident: str | None, clock: Clock, at: str | None, after: Sequence[str] | None,
    limit: int, position: int | None = None,
) -> list[Row]:  # fmt: skip
    """The pairs linked now (or at ``at``, or at a log ``position``), with the decision that
    linked them, by pair."""
    held, params = holding(clock, at, position)
    clauses = [held]
    if incident is not None:
        clauses.append("(first = ? OR second = ?)")
        params += [incident, incident]
    if after is not None:
        clauses.append("(first > ? OR (first = ? AND second > ?))")
        params += [after[0], after[0], after[1]]
    cursor.execute(
        f"{_LINKED} {' AND '.join(clauses)} ORDER BY first, second LIMIT ?", [*params, limit]
    )
    return [_decision_row(row) for row in cursor.fetchall()]


def held_among(
    cursor: Cursor, members: Sequence[str], clock: Clock, at: str | None, position: int | None
) -> list[Row]:
    """The links held (now, at ``at``, or at a log ``position``) between these incidents."""
    held, params = holding(clock, at, position)
    marks = ", ".join("?" for _ in members)
    cursor.execute(
        f"{_LINKED} {held} AND first IN ({marks}) AND second IN ({marks}) ORDER BY first, second",
        [*params, *members, *members],
    )
    return [_decision_row(row) for row in cursor.fetchall()]


def open_proposals(
    cursor: Cursor, namespace: str | None, min_score: float, after: Sequence[Any] | None,
    limit: int, incident: str | None = None,
) -> list[Row]:  # fmt: skip
    """Proposals no decision stands on now, best first (score, then pair), each with what a
    reviewer reads of its two incidents."""
    clauses = [
        "p.score >= ?",
        "NOT EXISTS (SELECT 1 FROM link_decisions d WHERE d.first = p.first AND "
        "d.second = p.second AND d.sys_to_pos IS NULL AND d.status IS NOT NULL)",
    ]
    params: list[Any] = [min_score]
    if namespace is not None:
        clauses.append("(f1.namespaces LIKE ? ESCAPE '\\' OR f2.namespaces LIKE ? ESCAPE '\\')")
        params += [_of_namespace(namespace)] * 2
    if incident is not None:
        clauses.append("(p.first = ? OR p.second = ?)")
        params += [incident, incident]
    if after is not None:
        clauses.append("(p.score < ? OR (p.score = ? AND (p.first > ? OR (p.first = ? "
                       "AND p.second > ?))))")  # fmt: skip
        params += [after[0], after[0], after[1], after[1], after[2]]
    cursor.execute(
        "SELECT p.first, p.second, p.score, p.reasons, p.position, p.proposed_at, "
        "f1.summary AS first_summary, f2.summary AS second_summary "
        "FROM link_proposals p JOIN link_footprints f1 ON f1.incident_id = p.first "
        f"JOIN link_footprints f2 ON f2.incident_id = p.second WHERE {' AND '.join(clauses)} "
        "ORDER BY p.score DESC, p.first, p.second LIMIT ?",
        [*params, limit],
    )
    rows = cursor.fetchall()
    for row in rows:
        row["reasons"] = json.loads(row["reasons"])
        row["score"] = float(row["score"])
        row["incidents"] = [json.loads(row.pop(f"{n}_summary")) for n in ("first", "second")]
    return rows


def proposal_of(cursor: Cursor, first: str, second: str) -> Row | None:
    """The proposal standing for a pair now (None: none)."""
    cursor.execute(
        "SELECT score, reasons FROM link_proposals WHERE first = ? AND second = ?",
        (first, second),
    )
    row = cursor.fetchone()
    if row is not None:
        row["reasons"] = json.loads(row["reasons"])
    return row


def footprints(cursor: Cursor, namespace: str) -> list[Footprint]:
    """The live footprints of one dataset (``own``: analysts' incidents)."""
    cursor.execute(
        "SELECT footprint FROM link_footprints WHERE namespaces LIKE ? ESCAPE '\\'",
        (_of_namespace(namespace),),
    )
    return [Footprint.from_dict(json.loads(row["footprint"])) for row in cursor.fetchall()]


def _of_namespace(namespace: str) -> str:
    """LIKE … ESCAPE '\\': a ``namespaces`` column (``|acled|monitor|``) that holds it."""
    escaped = namespace.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%|{escaped}|%"


def _decision_row(row: Row) -> Row:
    key, name = row.pop("by_key"), row.pop("by_name")
    row["by"] = {"key_id": key, "name": name} if key else None
    row["reasons"] = json.loads(row["reasons"]) if row["reasons"] is not None else None
    row["score"] = float(row["score"]) if row["score"] is not None else None
    return row

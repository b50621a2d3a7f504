"""An incident's pictures in a read model: one row per picture version, valid on both clocks.

A read model that must show incidents as they were (or leave retired ones out) keeps a table of
their pictures (see :mod:`timeline.domain.incident`): one row per report, amendment,
retirement and restoration, with the read model's own columns of that picture (``payload``),
whether it is retired, and when it stood:

- on the **recorded** clock, ``[sys_from, sys_to)``: from when it was recorded (if it was then
  the picture stated last) until a version stated later was recorded. A version that arrives
  stated earlier than the current one never stands: its interval is empty (``sys_to`` =
  ``sys_from``). The current picture has ``sys_to_pos`` NULL.
- on the **stated** clock, ``[stated_from, stated_to)``: from its stated time until the next
  version in stated order. The first in stated order has ``stated_from`` NULL: it stands for the
  incident before anything was published, when statements made earlier speak of it.

Rows arrive in log order, so each new version only shortens its neighbours' intervals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from timeline.event_log import LogEntry
from timeline.pictures import stated_of
from timeline.projections.framework import BatchCursor
from timeline.projections.sql import Cursor, Row

Clock = Literal["recorded", "stated"]


class IncidentVersions:
    """The picture table of one read model (its name, and the columns it adds)."""

    def __init__(self, table: str, payload: Sequence[str]) -> None:
        self.table = table
        self.payload = tuple(payload)
        columns = (
            "incident_id", "version", "sys_from_pos", "sys_from", "sys_to_pos", "sys_to",
            "stated_at", "stated_from", "stated_to", "retired", *self.payload,
        )  # fmt: skip
        self._insert = (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
        )

    def create(self, cursor: Cursor, payload_sql: str) -> None:
        """Create the table (``payload_sql``: the payload columns' definitions) and indexes."""
        key = 'TEXT COLLATE "C"' if cursor.dialect == "postgres" else "TEXT"
        extra = f", {payload_sql}" if payload_sql else ""
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {self.table} (incident_id {key} NOT NULL, "
            f"version INTEGER NOT NULL, sys_from_pos BIGINT NOT NULL, sys_from {key} NOT NULL, "
            f"sys_to_pos BIGINT, sys_to {key}, stated_at {key} NOT NULL, stated_from {key}, "
            f"stated_to {key}, retired INTEGER NOT NULL{extra}, "
            "PRIMARY KEY (incident_id, version))"
        )
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS {self.table}_current ON {self.table} (incident_id) "
            "WHERE sys_to_pos IS NULL"
        )

    def add(
        self, cursor: BatchCursor, entry: LogEntry, retired: bool, payload: Sequence[Any]
    ) -> None:
        """Add the picture ``entry`` made, and shorten the intervals it cuts into."""
        stated = stated_of(entry.event)
        row: list[Any] = [entry.incident_id, entry.version, entry.position, entry.recorded]
        if entry.version == 1:  # a report: the incident's first and only picture yet
            cursor.insert(self._insert, (*row, None, None, stated, None, None, int(retired),
                                         *payload))  # fmt: skip
            return
        cursor.execute(
            f"SELECT version, stated_at, stated_from, sys_to_pos FROM {self.table} "
            "WHERE incident_id = ?",
            (entry.incident_id,),
        )
        others = cursor.fetchall()
        key = (stated, entry.version)
        before = [r for r in others if (r["stated_at"], r["version"]) < key]
        after = [r for r in others if (r["stated_at"], r["version"]) > key]
        previous = max(before, key=_order) if before else None
        following = min(after, key=_order) if after else None
        if previous is not None:
            self._set(cursor, entry.incident_id, previous, "stated_to = ?", stated)
        elif following is not None:  # it was first in stated order; now this one is
            self._set(cursor, entry.incident_id, following, "stated_from = ?",
                      following["stated_at"])  # fmt: skip
        (current,) = [r for r in others if r["sys_to_pos"] is None]
        if key > _order(current):
            self._set(cursor, entry.incident_id, current, "sys_to_pos = ?, sys_to = ?",
                      entry.position, entry.recorded)  # fmt: skip
            row += [None, None]
        else:  # published before the current picture: it never stands on the recorded clock
            row += [entry.position, entry.recorded]
        stated_from = stated if previous is not None else None
        stated_to = following["stated_at"] if following is not None else None
        cursor.insert(self._insert, (*row, stated, stated_from, stated_to, int(retired),
                                     *payload))  # fmt: skip

    def _set(self, cursor: BatchCursor, incident_id: str, row: Row, sql: str, *values: Any) -> None:
        cursor.execute(
            f"UPDATE {self.table} SET {sql} WHERE incident_id = ? AND version = ?",
            (*values, incident_id, row["version"]),
        )

    def latest(self, cursor: BatchCursor, incident_id: str) -> Row:
        """The incident's last version recorded: the state the next event changes."""
        cursor.execute(
            f"SELECT * FROM {self.table} WHERE incident_id = ? ORDER BY version DESC LIMIT 1",
            (incident_id,),
        )
        row = cursor.fetchone()
        if row is None:
            raise LookupError(f"{self.table} has no incident {incident_id}")
        return row


def _order(row: Row) -> tuple[str, int]:
    return (row["stated_at"], int(row["version"]))


def standing(alias: str, clock: Clock, as_of: str | None) -> tuple[str, list[Any]]:
    """SQL: the row of ``alias`` is the picture that stands at ``as_of`` on ``clock`` (now:
    the current one) — the one that governs the incident's statements then."""
    if as_of is None:
        return f"{alias}.sys_to_pos IS NULL", []
    if clock == "recorded":
        return (
            f"{alias}.sys_from <= ? AND ({alias}.sys_to IS NULL OR {alias}.sys_to > ?)",
            [as_of, as_of],
        )
    return (
        f"({alias}.stated_from IS NULL OR {alias}.stated_from <= ?) "
        f"AND ({alias}.stated_to IS NULL OR {alias}.stated_to > ?)",
        [as_of, as_of],
    )


def published(alias: str, clock: Clock, as_of: str | None, spoken: str) -> tuple[str, list[Any]]:
    """SQL to add to :func:`standing` for the incident itself (not its statements): on the
    stated clock it must have been published by ``as_of`` — or spoken of by then (``spoken``:
    SQL with one parameter, true when a live statement of it was made by then)."""
    if as_of is None or clock == "recorded":
        return "1 = 1", []
    return f"({alias}.stated_at <= ? OR {spoken})", [as_of, as_of]


def said(alias: str, clock: Clock, as_of: str | None, recorded: str, withdrawn: str,
         stated: str) -> tuple[str, list[Any]]:  # fmt: skip
    """SQL: a statement row of ``alias`` is live at ``as_of`` on ``clock``: recorded and not yet
    withdrawn then; on the stated clock, made by then and not withdrawn (editorial decisions
    stand on either clock). The three names are its columns."""
    if as_of is None:
        return f"{alias}.{withdrawn} IS NULL", []
    if clock == "recorded":
        return (
            f"{alias}.{recorded} <= ? AND ({alias}.{withdrawn} IS NULL OR {alias}.{withdrawn} > ?)",
            [as_of, as_of],
        )
    return f"{alias}.{stated} <= ? AND {alias}.{withdrawn} IS NULL", [as_of]


def at_position(alias: str, position: int) -> tuple[str, list[Any]]:
    """SQL: the row of ``alias`` (a picture, or a timeline item) stood once the log reached
    ``position``: recorded by then and not yet replaced or withdrawn. Exact where a time is not:
    two writers' events may be recorded in one order and logged in the other."""
    return held_at(alias, position, "sys_from_pos", "sys_to_pos")


def held_at(alias: str, position: int, since: str, until: str) -> tuple[str, list[Any]]:
    """SQL: the row of ``alias`` held at a log position (``since``, ``until``: its columns of
    the positions that recorded it and that ended it)."""
    return (
        f"{alias}.{since} <= ? AND ({alias}.{until} IS NULL OR {alias}.{until} > ?)",
        [position, position],
    )

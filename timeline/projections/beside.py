"""Rebuilding a read model beside the live one, and swapping it in when it has caught up.

`timeline rebuild` used to drop a model's tables and replay the log into them while readers
read: for minutes, `/timeline` answered from a half-built model. Now the model is replayed into
shadow tables (its own tables' names with ``__next``), while the live model keeps serving and
keeps following the log; then, holding the model's lock, the shadow catches up with the head
and replaces the live tables in one transaction. A reader sees the old model or the new one,
never a part of either.

The projection's own code is run unchanged against the shadow: a cursor rewrites its SQL to
name the shadow tables (and indexes). The swap renames the shadow tables, recreates the
indexes under their usual names, and moves the model's position to the shadow's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from eventsourcing.application import Application

from timeline.projections import failures
from timeline.projections.framework import (
    POSITIONS_TABLE,
    Projection,
    VersionChangeRefused,
    catch_up,
)
from timeline.projections.sql import Cursor, Dialect, Row, ViewDatabase

SUFFIX = "__next"
_INDEX = re.compile(r"(CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?)(\w+)", re.I)
_TABLE = re.compile(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.I)


class Renaming:
    """A cursor whose SQL names a projection's shadow tables and indexes."""

    def __init__(self, cursor: Cursor, tables: Sequence[str]) -> None:
        self.dialect = cursor.dialect
        self._cursor = cursor
        self._tables = set(tables)
        self._names = re.compile(r"\b(" + "|".join(map(re.escape, tables)) + r")\b")

    def _sql(self, sql: str) -> str:
        for created in _TABLE.findall(sql):  # a table the projection does not declare would
            if created not in self._tables:  # be left behind by the swap
                raise ValueError(f"projection creates table {created} not in its tables")
        sql = _INDEX.sub(lambda m: m.group(1) + m.group(2) + SUFFIX, sql)
        return self._names.sub(lambda m: m.group(1) + SUFFIX, sql)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """As the cursor's, on the shadow tables."""
        return self._cursor.execute(self._sql(sql), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """As the cursor's, on the shadow tables."""
        self._cursor.executemany(self._sql(sql), rows)

    def fetchall(self) -> list[Row]:
        """As the cursor's."""
        return self._cursor.fetchall()

    def fetchone(self) -> Row | None:
        """As the cursor's."""
        return self._cursor.fetchone()


class _Recording:
    """A cursor that only notes the statements (to learn a projection's index names)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.statements: list[str] = []

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        self.statements.append(sql)
        return 0

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.statements.append(sql)

    def fetchall(self) -> list[Row]:
        return []

    def fetchone(self) -> Row | None:
        return None


def shadow_of(live: Projection) -> Projection:
    """A projection that does what ``live`` does, to the shadow tables, under its own name."""
    base = type(live)

    def create_tables(self: Projection, cursor: Cursor) -> None:
        base.create_tables(self, Renaming(cursor, live.tables))

    def apply(self: Projection, cursor: Cursor, entries: Sequence[Any]) -> None:
        base.apply(self, Renaming(cursor, live.tables), entries)

    attributes = {
        "name": live.name + SUFFIX,
        "tables": tuple(t + SUFFIX for t in live.tables),
        "create_tables": create_tables,
        "apply": apply,
    }
    kind: Any = type(f"{base.__name__}Beside", (base,), attributes)
    shadow: Projection = object.__new__(kind)
    shadow.__dict__.update(live.__dict__)  # (whatever its constructor set up)
    return shadow


def rebuild_beside(
    app: Application[Any],
    db: ViewDatabase,
    projections: Sequence[Projection],
    exclusive: Callable[[Sequence[str]], AbstractContextManager[Callable[[int], None]]],
    batch_size: int = 1000,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Replay the log into shadows of ``projections`` while the live ones keep serving, then
    (inside ``exclusive``: the live ones' locks) catch up and swap each in; returns events
    applied. Refused before anything is built if one of them may not be rebuilt."""
    refused = [p.name for p in projections if not p.rebuildable]
    if refused:
        raise VersionChangeRefused(f"projection(s) {', '.join(refused)} cannot be rebuilt")
    shadows = [shadow_of(p) for p in projections]
    with db.transaction() as cursor:
        cursor.execute(POSITIONS_TABLE)
        for shadow in shadows:  # afresh, also after an interrupted rebuild
            for table in shadow.tables:
                cursor.execute(f"DROP TABLE IF EXISTS {table}")
            shadow.create_tables(cursor)
            cursor.execute("DELETE FROM projection_positions WHERE name = ?", (shadow.name,))
            cursor.execute(
                "INSERT INTO projection_positions (name, version, position, updated_at) "
                "VALUES (?, ?, 0, '')",
                (shadow.name, shadow.version),
            )
    applied = catch_up(app, db, shadows, batch_size, on_batch)
    with exclusive([p.name for p in projections]) as renew:
        applied += catch_up(app, db, shadows, batch_size, renew)
        with db.transaction() as cursor:
            for live, shadow in zip(projections, shadows, strict=True):
                _swap(cursor, live, shadow)
    failures.clear(db, [p.name for p in projections])
    return applied


def _swap(cursor: Cursor, live: Projection, shadow: Projection) -> None:
    """Put the caught-up shadow in the live model's place, in the caller's transaction."""
    recorded = _Recording(cursor.dialect)
    live.create_tables(recorded)
    indexes = [m.group(2) for sql in recorded.statements for m in _INDEX.finditer(sql)]
    for index in indexes:
        cursor.execute(f"DROP INDEX IF EXISTS {index}{SUFFIX}")
    for table in live.tables:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"ALTER TABLE {table}{SUFFIX} RENAME TO {table}")
        if cursor.dialect == "postgres":  # its primary key's index keeps the shadow's name
            cursor.execute(f"ALTER INDEX IF EXISTS {table}{SUFFIX}_pkey RENAME TO {table}_pkey")
    live.create_tables(cursor)  # the indexes, under their usual names
    cursor.execute("DELETE FROM projection_positions WHERE name = ?", (live.name,))
    cursor.execute(
        "UPDATE projection_positions SET name = ?, version = ? WHERE name = ?",
        (live.name, live.version, shadow.name),
    )

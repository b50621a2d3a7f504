"""The shared catch-up machinery: every projection resumes from its position, exactly once.

A batch's view changes and the projection's new position are committed in one transaction, and
the position moves by compare-and-set: if two runs overlap (a lost lock, a rebuild), the loser's
transaction rolls back instead of applying events twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from eventsourcing.application import Application

from timeline.log import LogEntry, head_position, read_log
from timeline.projections.sql import Cursor, ViewDatabase

POSITIONS_TABLE = """
CREATE TABLE IF NOT EXISTS projection_positions (
    name TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    position BIGINT NOT NULL,
    updated_at TEXT NOT NULL
)"""


class Projection(Protocol):
    """A read model: its tables, and how a batch of log entries changes them."""

    name: str
    version: int
    tables: tuple[str, ...]

    def create_tables(self, cursor: Cursor) -> None:
        """Create the tables and indexes if missing (idempotent)."""

    def apply(self, cursor: Cursor, entries: Sequence[LogEntry]) -> None:
        """Change the tables for these entries, in log order; ignore what does not matter."""


def rebuildable(projection: Projection) -> bool:
    """Whether replaying the whole log into the projection is harmless (pure read models)."""
    return bool(getattr(projection, "rebuildable", True))


class PositionMoved(Exception):
    """Another run advanced the projection first; this run's batch was rolled back."""


@dataclass(frozen=True)
class Status:
    """How far a projection is behind the log."""

    name: str
    version: int
    position: int
    head: int

    @property
    def lag(self) -> int:
        """Events in the log not yet applied."""
        return max(self.head - self.position, 0)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def migrate(db: ViewDatabase, projection: Projection) -> None:
    """Create the projection's tables; if its schema version changed, drop them and start over."""
    with db.transaction() as cursor:
        cursor.execute(POSITIONS_TABLE)
        cursor.execute(
            "SELECT version FROM projection_positions WHERE name = ?", (projection.name,)
        )
        row = cursor.fetchone()
        if row is not None and row["version"] != projection.version:
            _reset(cursor, projection)
        else:
            projection.create_tables(cursor)
        cursor.execute(
            "INSERT INTO projection_positions (name, version, position, updated_at) "
            "VALUES (?, ?, 0, ?) ON CONFLICT (name) DO NOTHING",
            (projection.name, projection.version, _now()),
        )


def _reset(cursor: Cursor, projection: Projection) -> None:
    for table in projection.tables:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
    projection.create_tables(cursor)
    cursor.execute(
        "UPDATE projection_positions SET version = ?, position = 0, updated_at = ? WHERE name = ?",
        (projection.version, _now(), projection.name),
    )


def read_position(cursor: Cursor, name: str) -> int:
    """The named projection's position as seen by this transaction (0 when never run).

    Read in the same snapshot as view rows, it says exactly which log position they reflect.
    """
    cursor.execute("SELECT position FROM projection_positions WHERE name = ?", (name,))
    row = cursor.fetchone()
    return int(row["position"]) if row else 0


def position(db: ViewDatabase, name: str) -> int:
    """The last log position applied to the named projection (0 when never run)."""
    with db.snapshot() as cursor:
        return read_position(cursor, name)


def status(
    app: Application[Any], db: ViewDatabase, projections: Sequence[Projection]
) -> list[Status]:
    """Position, head and lag of each projection, for /ready and the CLI."""
    head = head_position(app)
    rows = db.query("SELECT name, version, position FROM projection_positions")
    known = {row["name"]: row for row in rows}
    return [
        Status(
            name=p.name,
            version=p.version,
            position=int(known[p.name]["position"]) if p.name in known else 0,
            head=head,
        )
        for p in projections
    ]


def apply_batch(
    db: ViewDatabase, projection: Projection, entries: Sequence[LogEntry], start: int
) -> int:
    """Apply entries and move the position from ``start`` to the last entry, atomically."""
    end = entries[-1].position
    with db.transaction() as cursor:
        # Move the position first: on PostgreSQL this also locks the row, so an overlapping
        # run waits here and then finds the position moved, before touching any view table.
        moved = cursor.execute(
            "UPDATE projection_positions SET position = ?, updated_at = ? "
            "WHERE name = ? AND position = ? AND version = ?",
            (end, _now(), projection.name, start, projection.version),
        )
        if moved != 1:
            raise PositionMoved(projection.name)
        projection.apply(cursor, entries)
    after_commit = getattr(projection, "after_commit", None)
    if after_commit is not None:
        after_commit()  # work that must only start once the batch is durable (webhook jobs)
    return end


def catch_up(
    app: Application[Any],
    db: ViewDatabase,
    projection: Projection,
    batch_size: int = 1000,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Apply every event after the projection's position until the log is drained.

    Returns how many events were applied. ``on_batch`` is told each new position (progress bars,
    lock renewal). Killing this half way loses nothing: the next run resumes from the last
    committed batch.
    """
    applied = 0
    start = position(db, projection.name)
    while True:
        entries = read_log(app, start, batch_size)
        if not entries:
            return applied
        try:
            start = apply_batch(db, projection, entries, start)
        except PositionMoved:
            start = position(db, projection.name)
            continue
        applied += len(entries)
        if on_batch is not None:
            on_batch(start)


def rebuild(
    app: Application[Any],
    db: ViewDatabase,
    projection: Projection,
    batch_size: int = 1000,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Drop the projection's tables and replay the whole log into fresh ones.

    Refused for projections that act on the world (the webhook dispatcher would send again).
    """
    if not rebuildable(projection):
        raise ValueError(f"projection {projection.name!r} cannot be rebuilt")
    migrate(db, projection)
    with db.transaction() as cursor:
        _reset(cursor, projection)
    return catch_up(app, db, projection, batch_size, on_batch)

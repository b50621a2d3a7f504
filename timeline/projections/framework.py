"""The projection framework: what a read model is, and the one loop that keeps read models current.

A read model subclasses :class:`Projection`: it names itself, its schema version and its tables,
says whether it may be rebuilt, and handles the domain events it cares about with a
``singledispatchmethod`` keyed by the event class (as the `eventsourcing` library's own
projection examples do). Everything else — positions, exactly-once batches, reading the log once
for all projections, rebuilds, refusing to drop operational state — lives here, once.

Why not the library's own ``ProjectionRunner`` and ``TrackingRecorder``: they give each
projection its own subscription to the application and process one event per call, each with
its own tracking record. Here one job keeps seven read models current from a single read of the
log, commits a whole batch of events and its position in one transaction per projection (a
1,000-event batch costs one commit, not 1,000), and must also run on SQLite, which has no
subscriptions. The idea is the same: the view's changes and the position travel together.

Exactly once: a batch's view changes and the projection's new position are committed in one
transaction, and the position moves by compare-and-set (the row also carries the schema
version), so an overlapping run (a lost lock, a rebuild) rolls back instead of applying twice.
"""

from __future__ import annotations

import inspect
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from eventsourcing.application import Application
from eventsourcing.dispatch import singledispatchmethod

from timeline.event_log import LogEntry, UndecodableEvent, head_position, read_log
from timeline.outage import DatabaseUnavailable
from timeline.projections import failures
from timeline.projections.sql import Cursor, Row, ViewDatabase

log = logging.getLogger(__name__)

POSITIONS_TABLE = """
CREATE TABLE IF NOT EXISTS projection_positions (
    name TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    position BIGINT NOT NULL,
    updated_at TEXT NOT NULL
)"""


class BatchCursor:
    """The cursor handlers write through: inserts are buffered, one ``executemany`` per statement.

    Any other statement first flushes the buffer, so a handler always reads what earlier
    handlers of the same batch wrote.
    """

    def __init__(self, cursor: Cursor) -> None:
        self.dialect = cursor.dialect
        self._cursor = cursor
        self._pending: dict[str, list[Sequence[Any]]] = {}

    def insert(self, sql: str, params: Sequence[Any]) -> None:
        """Queue an insert; it reaches the database before the next read or other write."""
        self._pending.setdefault(sql, []).append(params)

    def flush(self) -> None:
        """Send every queued insert, statement by statement in the order first queued."""
        pending, self._pending = self._pending, {}
        for sql, rows in pending.items():
            self._cursor.executemany(sql, rows)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement after the queued inserts; returns the rows it changed."""
        self.flush()
        return self._cursor.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for many rows, after the queued inserts."""
        self.flush()
        self._cursor.executemany(sql, rows)

    def fetchall(self) -> list[Row]:
        """Rows of the last statement."""
        return self._cursor.fetchall()

    def fetchone(self) -> Row | None:
        """The next row of the last statement."""
        return self._cursor.fetchone()


class Projection(ABC):
    """A read model: its tables, and how each domain event changes them.

    Subclasses declare their own ``handle`` as a ``singledispatchmethod`` and register one
    handler per event class they care about; events of any other class are ignored, but the
    position still moves past them.
    """

    name: ClassVar[str]
    version: ClassVar[int]
    tables: ClassVar[tuple[str, ...]]
    # A pure read model may be dropped and replayed from the log; a projection holding
    # operational state (the webhook dispatcher's delivery log) may not.
    rebuildable: ClassVar[bool] = True

    @abstractmethod
    def create_tables(self, cursor: Cursor) -> None:
        """Create the tables and indexes if missing (idempotent)."""

    @singledispatchmethod
    def handle(self, event: object, entry: LogEntry, cursor: BatchCursor) -> None:
        """Change the tables for one event; the default ignores it."""
        return None  # optional hook

    def apply(self, cursor: Cursor, entries: Sequence[LogEntry]) -> None:
        """Apply a batch of entries in log order, inside the batch's transaction."""
        batch = BatchCursor(cursor)
        handlers = _handlers(type(self))
        for entry in entries:
            kind = type(entry.event)
            handler = handlers.get(kind)
            if handler is None:
                handler = handlers[kind] = _dispatcher(type(self)).dispatch(kind)
            handler(self, entry.event, entry, batch)
        self.finish(batch)
        batch.flush()

    def finish(self, cursor: BatchCursor) -> None:
        """Work done once per batch after its events (e.g. recomputing what they touched)."""
        return None  # optional hook

    def after_commit(self) -> None:
        """Work that may start only once the batch is durable (webhook jobs)."""
        return None  # optional hook


# Each projection class's handler per event class, resolved once. Calling ``self.handle`` per
# event would cost a fresh wrapper each time (functools.singledispatchmethod.__get__ builds one
# on every attribute access: ~12 % of catch-up time when measured).
_HANDLERS: dict[type[Projection], dict[type[Any], Callable[..., None]]] = {}


def _handlers(projection: type[Projection]) -> dict[type[Any], Callable[..., None]]:
    return _HANDLERS.setdefault(projection, {})


def _dispatcher(projection: type[Projection]) -> Any:
    """The ``singledispatch`` function behind the class's ``handle``."""
    return inspect.getattr_static(projection, "handle").dispatcher


class PositionMoved(Exception):
    """Another run advanced the projection first; this run's batch was rolled back."""


class VersionChangeRefused(Exception):
    """A projection that may not be rebuilt changed its schema version.

    Its tables hold operational state; they change only through migrations, never by a reset.
    """


@dataclass(frozen=True)
class Status:
    """How far a projection is behind the log, and whether it can run at all."""

    name: str
    version: int
    position: int
    head: int
    problem: str | None = None
    # A poison event: where it stopped and why (it runs again after a backoff; see failures).
    stopped: failures.Failure | None = None

    @property
    def lag(self) -> int:
        """Events in the log not yet applied."""
        return max(self.head - self.position, 0)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _stored(cursor: Cursor, name: str) -> Row | None:
    cursor.execute("SELECT version, position FROM projection_positions WHERE name = ?", (name,))
    return cursor.fetchone()


def migrate(db: ViewDatabase, projection: Projection) -> None:
    """Create the projection's tables; a rebuildable one whose version changed starts over.

    Raises :class:`VersionChangeRefused` (tables untouched) for one that may not be rebuilt.
    """
    with db.transaction() as cursor:
        cursor.execute(POSITIONS_TABLE)
        cursor.execute(failures.FAILURES_TABLE)
        row = _stored(cursor, projection.name)
        if row is not None and row["version"] != projection.version:
            if not projection.rebuildable:
                raise VersionChangeRefused(version_problem(projection, int(row["version"])))
            _reset(cursor, projection)
        else:
            projection.create_tables(cursor)
        cursor.execute(
            "INSERT INTO projection_positions (name, version, position, updated_at) "
            "VALUES (?, ?, 0, ?) ON CONFLICT (name) DO NOTHING",
            (projection.name, projection.version, _now()),
        )


def version_problem(projection: Projection, stored: int) -> str:
    """What an operator reads when a projection's tables are of another schema version."""
    return (
        f"projection {projection.name!r} has tables of version {stored} but the code expects "
        f"version {projection.version}; it holds operational state and is never reset: "
        "migrate its tables, then set its stored version"
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
    row = _stored(cursor, name)
    return int(row["position"]) if row else 0


def position(db: ViewDatabase, name: str) -> int:
    """The last log position applied to the named projection (0 when never run)."""
    with db.snapshot() as cursor:
        return read_position(cursor, name)


def status(
    app: Application[Any], db: ViewDatabase, projections: Sequence[Projection]
) -> list[Status]:
    """Position, head, lag and any problem of each projection, for /ready and the CLI."""
    head = head_position(app)
    rows = db.query("SELECT name, version, position FROM projection_positions")
    known = {row["name"]: row for row in rows}
    stopped = failures.failures(db)
    statuses = []
    for p in projections:
        row = known.get(p.name)
        stored = int(row["version"]) if row else p.version
        statuses.append(
            Status(
                name=p.name,
                version=stored,
                position=int(row["position"]) if row else 0,
                head=head,
                problem=None if stored == p.version else version_problem(p, stored),
                stopped=stopped.get(p.name),
            )
        )
    return statuses


Work = tuple[Projection, Sequence[LogEntry], int]  # a projection, its entries, its position


def apply_batch(
    db: ViewDatabase, projection: Projection, entries: Sequence[LogEntry], start: int
) -> int:
    """Apply entries and move the position from ``start`` to the last entry, atomically."""
    return apply_together(db, [(projection, entries, start)])[projection.name]


def apply_together(db: ViewDatabase, work: Sequence[Work]) -> dict[str, int]:
    """Apply each projection's entries and move its position, all in one transaction.

    One commit for the whole batch instead of one per projection (a sixth less catch-up time on
    SQLite). Each position still moves by compare-and-set with its own view changes: if any
    projection fails, nothing of the batch is kept. Returns each projection's new position.
    """
    with db.transaction() as cursor:
        for projection, entries, start in work:
            # Move the position first: on PostgreSQL this also locks the row, so an
            # overlapping run waits here and then finds the position moved, before touching
            # any view table.
            moved = cursor.execute(
                "UPDATE projection_positions SET position = ?, updated_at = ? "
                "WHERE name = ? AND position = ? AND version = ?",
                (entries[-1].position, _now(), projection.name, start, projection.version),
            )
            if moved != 1:
                raise PositionMoved(projection.name)
            projection.apply(cursor, entries)
    for projection, _, _ in work:
        projection.after_commit()  # work that must only start once the batch is durable
    return {projection.name: entries[-1].position for projection, entries, _ in work}


def _runnable(db: ViewDatabase, projections: Sequence[Projection]) -> dict[str, int]:
    """Each projection's position; one whose tables are of another version is left out."""
    positions = {}
    with db.snapshot() as cursor:
        for p in projections:
            row = _stored(cursor, p.name)
            if row is not None and int(row["version"]) != p.version:
                log.error(version_problem(p, int(row["version"])))
                continue
            positions[p.name] = int(row["position"]) if row else 0
    return positions


def catch_up(
    app: Application[Any],
    db: ViewDatabase,
    projections: Sequence[Projection],
    batch_size: int = 1000,
    on_batch: Callable[[int], None] | None = None,
    failed: dict[str, Exception] | None = None,
) -> int:
    """Apply every event after each projection's position until the log is drained.

    Each batch of the log is read and decoded once and applied to every projection that has
    not seen it, in one transaction (one per projection if that fails). Returns how many
    (event, projection) applications were made. ``on_batch`` is told the lowest position
    reached after each batch (progress bars, lock renewal). With ``failed`` given, a
    projection that cannot apply an event is set aside there (logged) while the others go on;
    without it the error is raised. An unreachable database always raises: that is not the
    event's fault. Killing this half way loses nothing: the next run resumes from the last
    committed batch of each projection.
    """
    by_name = {p.name: p for p in projections}
    positions = _runnable(db, projections)
    started = dict(positions)
    applied = 0
    size = batch_size
    while positions:
        low = min(positions.values())
        try:
            entries = read_log(app, low, size)
        except UndecodableEvent as bad:  # apply what comes before it, then stop there
            entries = read_log(app, low, bad.position - 1 - low) if bad.position - 1 > low else []
            if not entries:
                _set_aside(db, [n for n, p in positions.items() if p < bad.position],
                           bad.position, bad, positions, failed)  # fmt: skip
                continue
        if not entries:
            break
        # A full batch means a backlog: take large ones (fewer commits, each a WAL checkpoint
        # on SQLite) until caught up; at the head, batches are as small as what has arrived.
        size = max(batch_size, BACKLOG_BATCH) if len(entries) == size else batch_size
        applied += _apply_entries(db, entries, by_name, positions, failed)
        if on_batch is not None:
            on_batch(min(positions.values(), default=entries[-1].position))
    grown = [by_name[n] for n, p in positions.items() if p - started[n] >= ANALYZE_AFTER]
    analyze(db, grown)
    if failed is not None:  # the runner's job: those that got past where they stopped
        stopped = failures.failures(db)
        failures.clear(db, [n for n, p in positions.items() if n in stopped
                            and p >= stopped[n].position])  # fmt: skip
    return applied


def _set_aside(
    db: ViewDatabase,
    names: list[str],
    at: int,
    error: Exception,
    positions: dict[str, int],
    failed: dict[str, Exception] | None,
) -> None:
    """Projections that cannot get past the event at position ``at``: recorded as stopped
    there and left out of the rest of this run (without ``failed``, the error is raised)."""
    if failed is None:
        raise error
    for name in names:
        log.error("projection %s stopped at position %s: %r", name, at, error)
        failures.record(db, name, at, error)
        failed[name] = error
        del positions[name]


# The batch a catch-up working off a backlog takes once a batch of ``batch_size`` came full.
BACKLOG_BATCH = 5_000
# After a projection moved this far in one catch-up (a rebuild, a large import), PostgreSQL is
# asked to refresh its statistics of the projection's tables: a server with autovacuum off
# (or not yet run) otherwise plans `/timeline` as a full sort (106 ms instead of 8 ms at 100k).
ANALYZE_AFTER = 10_000


def analyze(db: ViewDatabase, projections: Sequence[Projection]) -> None:
    """Refresh the query planner's statistics of these projections' tables (PostgreSQL)."""
    if db.dialect != "postgres" or not projections:
        return
    with db.transaction() as cursor:
        for projection in projections:
            for table in projection.tables:
                cursor.execute(f"ANALYZE {table}")


def _apply_entries(
    db: ViewDatabase,
    entries: Sequence[LogEntry],
    by_name: dict[str, Projection],
    positions: dict[str, int],
    failed: dict[str, Exception] | None,
) -> int:
    """Apply a batch of the log to every projection that has not seen it; returns how many
    (event, projection) applications were made."""
    work: list[Work] = []
    for name, start in positions.items():
        todo = [e for e in entries if e.position > start]
        if todo:
            work.append((by_name[name], todo, start))
    try:
        positions.update(apply_together(db, work))
        return sum(len(todo) for _, todo, _ in work)
    except DatabaseUnavailable:
        raise
    except Exception:
        # Something in the shared transaction failed: apply them one at a time, so that a
        # poison event or an overlapping run holds no other projection back.
        return _apply_each(db, work, positions, failed)


def _apply_each(
    db: ViewDatabase,
    work: Sequence[Work],
    positions: dict[str, int],
    failed: dict[str, Exception] | None,
) -> int:
    """Apply each projection's part of a batch in its own transaction; returns events applied.

    A projection another run moved first is re-read; one that fails is set aside in
    ``failed`` (or, without it, the error is raised).
    """
    applied = 0
    for projection, todo, start in work:
        name = projection.name
        try:
            positions[name] = apply_batch(db, projection, todo, start)
            applied += len(todo)
        except PositionMoved:
            positions[name] = position(db, name)
        except DatabaseUnavailable:
            raise
        except Exception as error:  # a poison event: find it, apply up to it, set this aside
            if failed is None:
                raise
            reached, bad, error = _up_to_the_poison(db, projection, todo, start, error)
            positions[name] = reached
            applied += sum(1 for e in todo if e.position <= reached)
            _set_aside(db, [name], bad, error, positions, failed)
    return applied


def _up_to_the_poison(
    db: ViewDatabase,
    projection: Projection,
    todo: Sequence[LogEntry],
    start: int,
    error: Exception,
) -> tuple[int, int, Exception]:
    """Apply a failed batch's events one at a time until one fails: the position reached,
    the failing event's position and its error."""
    reached = start
    for entry in todo:
        try:
            reached = apply_batch(db, projection, [entry], reached)
        except (DatabaseUnavailable, PositionMoved):
            raise  # not the event's fault: the job fails, and the next one starts over
        except Exception as failure:
            return reached, entry.position, failure
    return reached, todo[-1].position, error  # (it failed together only: name the last one)


def rebuild(
    app: Application[Any],
    db: ViewDatabase,
    projections: Sequence[Projection],
    batch_size: int = 1000,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Drop the projections' tables and replay the whole log into fresh ones, in one read.

    Refused (before anything is dropped) if any of them may not be rebuilt: the webhook
    dispatcher would send everything again.
    """
    refused = [p.name for p in projections if not p.rebuildable]
    if refused:
        raise VersionChangeRefused(f"projection(s) {', '.join(refused)} cannot be rebuilt")
    for projection in projections:
        migrate(db, projection)
        with db.transaction() as cursor:
            _reset(cursor, projection)
    return catch_up(app, db, projections, batch_size, on_batch)

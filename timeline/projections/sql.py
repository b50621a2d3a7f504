"""A small SQL gateway for read models: one API over a SQLite file or a PostgreSQL schema.

SQL is written once with ``?`` placeholders and portable syntax (``ON CONFLICT``, row values);
the PostgreSQL side swaps in ``%s``. Rows come back as dicts on both. An error that means "the
database cannot be reached right now" leaves here as the service's own
:class:`~timeline.outage.DatabaseUnavailable`, whatever the driver: callers above never see a
driver's exception classes.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Literal, Protocol

from timeline.outage import DatabaseUnavailable, is_unavailable

Row = dict[str, Any]


@contextmanager
def _translated() -> Iterator[None]:
    """Turn a driver's "cannot reach the database" error into :class:`DatabaseUnavailable`."""
    try:
        yield
    except DatabaseUnavailable:
        raise
    except Exception as error:
        if is_unavailable(error):
            raise DatabaseUnavailable(f"database unreachable: {error}") from error
        raise


Dialect = Literal["sqlite", "postgres"]


class Cursor(Protocol):
    """What projections and queries may do inside a transaction."""

    dialect: Dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def fetchall(self) -> list[Row]: ...

    def fetchone(self) -> Row | None: ...


class ViewDatabase(Protocol):
    """A database holding read models and their positions."""

    dialect: Dialect

    def transaction(self) -> AbstractContextManager[Cursor]: ...

    def snapshot(self) -> AbstractContextManager[Cursor]: ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    def close(self) -> None: ...


class _SQLiteCursor:
    dialect: Dialect = "sqlite"

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        self._cursor.execute(sql, params)
        return self._cursor.rowcount

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._cursor.executemany(sql, rows)

    def fetchall(self) -> list[Row]:
        return [dict(row) for row in self._cursor.fetchall()]

    def fetchone(self) -> Row | None:
        row = self._cursor.fetchone()
        return dict(row) if row is not None else None


class SQLiteViews:
    """Read models in a SQLite file (WAL), one connection per thread."""

    dialect: Dialect = "sqlite"

    def __init__(self, path: Path, timeout: float = 30.0) -> None:
        self.path = path
        self.timeout = timeout
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(
                self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA cache_size=-65536")
            self._local.connection = connection
        return connection

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        """A write transaction: taken with BEGIN IMMEDIATE so writers queue instead of failing."""
        with _translated():
            connection = self._connection()
            cursor = connection.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield _SQLiteCursor(cursor)
            except BaseException:
                connection.rollback()
                raise
            else:
                connection.commit()
            finally:
                cursor.close()

    @contextmanager
    def snapshot(self) -> Iterator[Cursor]:
        """Several reads that see one consistent state (a deferred transaction under WAL).

        A snapshot this thread left open (an export whose client went away without the server
        closing the response) is ended first: this thread is past it.
        """
        with _translated():
            connection = self._connection()
            if connection.in_transaction:
                connection.rollback()
            cursor = connection.cursor()
            cursor.execute("BEGIN")
            try:
                yield _SQLiteCursor(cursor)
            finally:
                connection.rollback()
                cursor.close()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """A read outside any write transaction."""
        with _translated():
            cursor = self._connection().execute(sql, params)
            try:
                return [dict(row) for row in cursor.fetchall()]
            finally:
                cursor.close()

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


# A plain INSERT of one row of placeholders: what many rows of can go through COPY instead.
_PLAIN_INSERT = re.compile(
    r"\s*INSERT INTO (?P<table>\w+) \((?P<columns>[\w\s,]+)\) VALUES \([?,\s]+\)\s*",
    re.IGNORECASE,
)


class _PostgresCursor:
    dialect: Dialect = "postgres"

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        self._cursor.execute(sql.replace("?", "%s"), params)
        return int(self._cursor.rowcount)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Many rows of a plain INSERT through COPY (a read model's catch-up spent two
        thirds of its time in the driver sending them one by one); anything else (upserts)
        row by row, pipelined."""
        plain = _PLAIN_INSERT.fullmatch(sql) if len(rows) > 1 else None
        if plain is None:
            if rows:
                self._cursor.executemany(sql.replace("?", "%s"), rows)
            return
        with self._cursor.copy(f"COPY {plain['table']} ({plain['columns']}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def fetchall(self) -> list[Row]:
        return list(self._cursor.fetchall())

    def fetchone(self) -> Row | None:
        row = self._cursor.fetchone()
        return dict(row) if row is not None else None


class PostgresViews:
    """Read models in a PostgreSQL schema, through a connection pool."""

    dialect: Dialect = "postgres"

    def __init__(
        self, conninfo: str, schema: str = "public", pool_size: int = 5, timeout: float = 5.0
    ) -> None:
        from psycopg.conninfo import conninfo_to_dict
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        from timeline.outage import gate_for

        self.schema = schema
        self._gate = gate_for(conninfo_to_dict(conninfo), timeout)
        self._pool = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=pool_size,
            kwargs={
                "row_factory": dict_row,
                "options": f"-c search_path={schema}",
                "connect_timeout": max(int(timeout), 1),
            },
            # With the server down, the first request waits this long for a connection, then
            # trips the gate; the next ones fail at once (a 503) until the server is back.
            timeout=timeout,
            open=True,
            check=ConnectionPool.check_connection,
        )

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        """A pooled connection, through the server's gate (see :mod:`timeline.outage`)."""
        import psycopg

        with (
            _translated(),
            self._gate.watching(psycopg.OperationalError, psycopg.InterfaceError),
            self._pool.connection() as connection,
        ):
            yield connection

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        """One transaction on a pooled connection; committed on success, rolled back on error."""
        with (
            self._connection() as connection,
            connection.transaction(),
            connection.cursor() as cursor,
        ):
            yield _PostgresCursor(cursor)

    @contextmanager
    def snapshot(self) -> Iterator[Cursor]:
        """Several reads that see one consistent state (REPEATABLE READ, read only)."""
        with (
            self._connection() as connection,
            connection.transaction(),
            connection.cursor() as cursor,
        ):
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield _PostgresCursor(cursor)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """A read on a pooled connection."""
        with self._connection() as connection, connection.cursor() as cursor:
            cursor.execute(sql.replace("?", "%s"), params)
            return [dict(row) for row in cursor.fetchall()]

    def close(self) -> None:
        """Close the pool."""
        self._pool.close()

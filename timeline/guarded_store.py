"""The PostgreSQL event store, behind this process's :class:`~timeline.outage.DatabaseGate`.

The eventsourcing library lets a deployment name its own persistence factory
(``PERSISTENCE_MODULE``); this one hands the library's recorders a datastore that asks the
gate before each connection and trips it when a connection fails. Because the gate's
:class:`~timeline.outage.DatabaseUnavailable` is not an error the library retries, a request
during an outage stops at the gate instead of waiting out ten pool timeouts.

It also writes events without psycopg's pipeline mode (see :class:`UnpipelinedRecorder`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
)
from eventsourcing.utils import Environment, EnvType, retry
from psycopg import Connection, Cursor
from psycopg.rows import DictRow

from timeline.outage import DatabaseGate, gate_for


class GuardedDatastore:
    """The library's datastore with the gate in front of every connection it lends."""

    def __init__(self, datastore: PostgresDatastore, gate: DatabaseGate) -> None:
        self._datastore = datastore
        self._gate = gate

    def __getattr__(self, name: str) -> Any:
        """Everything but lending connections is the library's own (schema, type names…)."""
        return getattr(self._datastore, name)

    @contextmanager
    def get_connection(self) -> Iterator[Connection[DictRow]]:
        """A pooled connection, or :class:`DatabaseUnavailable` at once during an outage."""
        with (
            self._gate.watching(OperationalError, InterfaceError),
            self._datastore.get_connection() as connection,
        ):
            yield connection

    @contextmanager
    def cursor(self) -> Iterator[Cursor[DictRow]]:
        """As the library's, through the gate."""
        with self.get_connection() as connection:
            yield connection.cursor()

    @contextmanager
    def transaction(self, *, commit: bool = False) -> Iterator[Cursor[DictRow]]:
        """As the library's, through the gate."""
        with self.get_connection() as connection, connection.transaction(force_rollback=not commit):
            yield connection.cursor()


class UnpipelinedRecorder(PostgresApplicationRecorder):
    """The library's application recorder, inserting events in a plain transaction.

    The library sends the table lock, NOTIFY and one INSERT of every event (an array) in
    pipeline mode. With a full batch of large items (~20,000 events, tens of MB) psycopg then
    waited for results while the server was still reading the INSERT, for ever
    (tests/integration/test_large_batch.py). Without the pipeline the same three statements
    cost two more round trips, nothing beside a bulk write, and cannot deadlock that way.
    """

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Insert events in one transaction (locking the table, as the library does, so that
        positions are committed in order); returns their positions."""
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._insert_events(curs, stored_events, **kwargs)
            if not stored_events:
                return None
            self._insert_stored_events(curs, stored_events, **kwargs)
            return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)


class GuardedPostgresFactory(PostgresFactory):
    """The library's PostgreSQL persistence, every recorder's connections through the gate.

    Named by ``PERSISTENCE_MODULE``; the events, the snapshots and any other table of an
    application share the factory's one datastore, so guarding it guards them all.
    """

    application_recorder_class = UnpipelinedRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        pool = self.datastore.pool
        gate = gate_for(cast(dict[str, Any], pool.kwargs), pool.timeout)
        self.datastore = cast(PostgresDatastore, GuardedDatastore(self.datastore, gate))


TOPIC = f"{__name__}:{GuardedPostgresFactory.__qualname__}"

"""The PostgreSQL event store, behind this process's :class:`~timeline.outage.DatabaseGate`.

The eventsourcing library lets a deployment name its own persistence factory
(``PERSISTENCE_MODULE``); this one hands the library's recorders a datastore that asks the
gate before each connection and trips it when a connection fails. Because the gate's
:class:`~timeline.outage.DatabaseUnavailable` is not an error the library retries, a request
during an outage stops at the gate instead of waiting out ten pool timeouts.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.postgres import PostgresDatastore, PostgresFactory
from eventsourcing.utils import Environment, EnvType
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


class GuardedPostgresFactory(PostgresFactory):
    """The library's PostgreSQL persistence, every recorder's connections through the gate.

    Named by ``PERSISTENCE_MODULE``; the events, the snapshots and any other table of an
    application share the factory's one datastore, so guarding it guards them all.
    """

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        pool = self.datastore.pool
        gate = gate_for(cast(dict[str, Any], pool.kwargs), pool.timeout)
        self.datastore = cast(PostgresDatastore, GuardedDatastore(self.datastore, gate))


TOPIC = f"{__name__}:{GuardedPostgresFactory.__qualname__}"

"""A circuit breaker for the database server, so an outage answers 503 at once, not after a wait.

The event store retries a failed call ten times, each waiting up to the connection timeout for
its pool: good for a blip, but with the server gone every request would hang for most of a
minute before its 503. Instead, the first failure *trips* the server's :class:`DatabaseGate`;
from then on each call first asks the gate, which probes the server with one fresh connection
(at most once per ``interval``) and, while the probe fails, raises :class:`DatabaseUnavailable`
at once. A probe that succeeds closes the gate, so the service recovers by itself. A pool that
timed out under load, with the server fine, costs one probe and no error.

One gate per server per process, shared by the event stores and the read-model pool.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any


class DatabaseUnavailable(Exception):
    """The database server was found unreachable and a fresh probe still cannot reach it.

    Deliberately not one of the event store's retryable errors, so its retry loop stops here.
    """


def is_unavailable(error: BaseException) -> bool:
    """Whether an error means "the database cannot be reached right now" (worth a retry), as
    opposed to a bug. Covers both backends and the event store's wrapped errors; the one place
    that knows the drivers' exception classes."""
    import sqlite3

    import psycopg
    from eventsourcing import persistence

    if isinstance(error, DatabaseUnavailable):
        return True
    if isinstance(error, persistence.OperationalError | persistence.InterfaceError):
        return True
    if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        return True
    if isinstance(error, sqlite3.OperationalError):
        text = str(error).lower()
        return "locked" in text or "unable to open" in text or "disk i/o" in text
    return False


def driver_errors() -> tuple[type[Exception], ...]:
    """The exception classes (of the drivers and the event store) that *may* mean an outage;
    :func:`is_unavailable` decides per instance. For handlers that must catch them by class."""
    import sqlite3

    import psycopg
    from eventsourcing import persistence

    return (
        DatabaseUnavailable,
        persistence.OperationalError,
        persistence.InterfaceError,
        psycopg.OperationalError,
        psycopg.InterfaceError,
        sqlite3.OperationalError,
    )


class DatabaseGate:
    """Whether calls to one database server should go ahead, or fail fast during an outage."""

    def __init__(
        self,
        probe: Callable[[], None],
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._probe = probe
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._tripped = False
        self._confirmed = False  # a probe failed since the gate tripped
        self._probed_at = float("-inf")
        self._reason = ""

    def trip(self, error: BaseException) -> None:
        """A call failed to reach the server: the next call probes before going ahead."""
        with self._lock:
            if not self._tripped:
                self._tripped, self._confirmed = True, False
                self._probed_at = float("-inf")
                self._reason = str(error) or type(error).__name__

    def check(self) -> None:
        """Return if the server may be reachable; raise :class:`DatabaseUnavailable` if not."""
        if not self._tripped:
            return
        if not self._lock.acquire(blocking=False):
            if self._confirmed:  # known down, and someone is already probing
                raise self._unavailable()
            self._lock.acquire()  # the first probe after a trip: wait for its verdict
        try:
            if self._tripped and self._clock() - self._probed_at >= self._interval:
                self._probe_now()
        finally:
            self._lock.release()
        if self._tripped:
            raise self._unavailable()

    @contextmanager
    def watching(self, *errors: type[BaseException]) -> Iterator[None]:
        """Around one use of a connection: :meth:`check` first, :meth:`trip` on ``errors``."""
        self.check()
        try:
            yield
        except errors as error:
            self.trip(error)
            raise

    def _probe_now(self) -> None:
        try:
            self._probe()
        except Exception as error:
            self._confirmed, self._reason = True, str(error).strip() or type(error).__name__
            return
        finally:
            self._probed_at = self._clock()
        self._tripped = self._confirmed = False

    def _unavailable(self) -> DatabaseUnavailable:
        return DatabaseUnavailable(f"database unreachable: {self._reason}")


_gates: dict[str, DatabaseGate] = {}
_gates_lock = threading.Lock()


def gate_for(params: Mapping[str, Any], timeout: float) -> DatabaseGate:
    """This process's gate for the PostgreSQL server named by libpq connection ``params``."""
    key = f"{params.get('host')}:{params.get('port')}/{params.get('dbname')}"
    with _gates_lock:
        if key not in _gates:
            _gates[key] = DatabaseGate(_connect_probe(dict(params), timeout))
        return _gates[key]


def _connect_probe(params: dict[str, Any], timeout: float) -> Callable[[], None]:
    import psycopg

    wanted = {
        k: v for k, v in params.items() if k in ("host", "port", "dbname", "user", "password")
    }

    def probe() -> None:
        with psycopg.connect(**wanted, connect_timeout=max(int(timeout), 1)) as connection:
            connection.execute("SELECT 1")

    return probe

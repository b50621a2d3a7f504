"""Soak: PostgreSQL, gunicorn with 4 workers, 2 RQ workers, 8 writer processes — and faults.

Run with `make soak` (it is left out of `make test`). While 8 client processes append
SOAK_STATEMENTS statements (default 20,000) across 50 incidents, some hot, a chaos thread
SIGKILLs and restarts RQ workers, cuts Redis for a while and cuts PostgreSQL for a while (both
through TCP proxies). Clients retry a statement with its own id after a 503 or a broken
connection (a 409 then means the earlier try had landed). At the end:

- no answer was a 500, and writes during a database cut got 503s (not a wait); every
  acknowledged statement is in the log exactly once;
- every projection equals a rebuild from the log;
- every webhook delivery is recorded once and delivered, and the receiver got each event.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import WRITE_KEY
from tests.e2e.processes import clean_env, free_port, start, stop, wait_until
from tests.factories import a_statement, an_incident, as_json
from tests.integration.helpers import table_rows
from tests.proxy import Proxy
from tests.webhooks.receiver import Receiver, running
from timeline.bootstrap import Services, build
from timeline.config import Settings
from timeline.event_log import read_log
from timeline.projections.framework import rebuild
from timeline.projections.sql import PostgresViews
from timeline.webhooks.delivery_log import status_counts

pytestmark = pytest.mark.soak

STATEMENTS = int(os.environ.get("SOAK_STATEMENTS", "20000"))
CLIENTS = 8
HOT = 5


@pytest.fixture
def backend() -> str:
    """The scale-out topology is PostgreSQL's."""
    return "postgres"


def writer(base: str, ids: list[str], count: int, seed: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """Append ``count`` statements, retrying each (same id) until it is acknowledged."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {WRITE_KEY}"
    rng = random.Random(seed)
    acked: list[tuple[str, str]] = []
    statuses: Counter[int] = Counter()
    body = as_json(a_statement())
    for _ in range(count):
        incident = ids[rng.randrange(HOT)] if rng.random() < 1 / 3 else rng.choice(ids)
        statement = body | {"id": str(uuid.uuid4())}
        while True:
            try:
                answer = session.post(
                    f"{base}/incidents/{incident}/statements", json=statement, timeout=60
                )
            except requests.RequestException:
                statuses[0] += 1
                time.sleep(0.2)
                continue
            statuses[answer.status_code] += 1
            if answer.status_code in (201, 409):
                acked.append((incident, statement["id"]))
                break
            if answer.status_code == 500:
                break
            time.sleep(0.2)  # 503 (database away) or 429: try the same statement again
    out.put((acked, dict(statuses)))


class Deployment:
    """gunicorn and RQ workers as real processes, talking to proxied PostgreSQL and Redis."""

    def __init__(self, settings: Settings, tmp: Path, receiver_allowed: bool = True) -> None:
        assert settings.database_url and settings.redis_url
        self.settings = settings
        self.tmp = tmp
        db, redis_target = urlsplit(settings.database_url), urlsplit(settings.redis_url)
        self.db_proxy = Proxy((db.hostname or "127.0.0.1", db.port or 5432))
        self.redis_proxy = Proxy((redis_target.hostname or "127.0.0.1", redis_target.port or 6379))
        self.env = clean_env(
            database_url=f"postgresql://{db.username or 'postgres'}@127.0.0.1:"
            f"{self.db_proxy.port}{db.path}",
            database_schema=settings.database_schema,
            redis_url=f"redis://127.0.0.1:{self.redis_proxy.port}{redis_target.path}",
            data_dir=str(settings.data_dir),
            queue=settings.queue_name,
            api_keys=f"write:{WRITE_KEY}",
            create_tables="no",
            rate_limit="off",
            sweep_interval="1",
            lock_timeout="5",
            database_connect_timeout="1",
            webhook_allow_private="yes" if receiver_allowed else "no",
            webhook_retry_schedule="1,1,2,2,5,5,5,10,10,10",
            log_level="WARNING",
        )
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/api/v1"
        self.web = self._gunicorn()
        self.workers = [self._worker(n) for n in range(2)]

    def _gunicorn(self) -> subprocess.Popen[bytes]:
        args = [sys.executable, "-m", "gunicorn", "--config", "python:gunicorn_conf",
                "--bind", f"127.0.0.1:{self.port}", "--workers", "4", "--threads", "4",
                "--timeout", "120", "api.asgi:app"]  # fmt: skip
        with open(self.tmp / "gunicorn.log", "ab") as log:
            return subprocess.Popen(
                args, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def _worker(self, n: int) -> subprocess.Popen[bytes]:
        return start(["worker"], self.env, self.tmp / f"worker{n}.log")

    def kill_and_restart_a_worker(self, rng: random.Random) -> None:
        n = rng.randrange(len(self.workers))
        stop(self.workers[n], signal.SIGKILL)
        self.workers[n] = self._worker(n)

    def stop(self) -> None:
        for process in [self.web, *self.workers]:
            stop(process)
        self.db_proxy.cut()
        self.redis_proxy.cut()


def chaos(deployment: Deployment, done: threading.Event, log: list[str]) -> None:
    """Kill workers every few seconds; cut Redis, then PostgreSQL, for a while each."""
    rng = random.Random(7)
    round_ = 0
    while not done.wait(3):
        round_ += 1
        deployment.kill_and_restart_a_worker(rng)
        log.append(f"killed a worker (round {round_})")
        if round_ % 10 == 3:
            deployment.redis_proxy.cut()
            log.append("redis cut")
            done.wait(5)
            deployment.redis_proxy.restore()
            log.append("redis restored")
        if round_ % 10 == 7:
            deployment.db_proxy.cut()
            log.append("database cut")
            done.wait(5)
            deployment.db_proxy.restore()
            log.append("database restored")


def test_soak(settings: Settings, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    build(settings).close()  # migrate once, directly
    with running(Receiver()) as receiver:
        services = build(settings.with_changes(webhook_allow_private=True))
        subscription = services.subscriptions.create(
            {"url": receiver.url, "event_types": ["statement.recorded"]}, services.app.head()
        )
        receiver.secrets.append(subscription["secret"])
        deployment = Deployment(settings, tmp_path)
        try:
            base = deployment.base
            wait_until(lambda: requests.get(f"{base}/health", timeout=1).ok, 60, "gunicorn")
            writer_key = {"Authorization": f"Bearer {WRITE_KEY}"}
            ids = [
                requests.post(
                    f"{base}/incidents", json=as_json(an_incident()), headers=writer_key
                ).json()["id"]
                for _ in range(50)
            ]
            done, chaos_log = threading.Event(), []
            monkey = threading.Thread(target=chaos, args=(deployment, done, chaos_log))
            monkey.start()
            out: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
            clients = [
                multiprocessing.Process(
                    target=writer, args=(base, ids, STATEMENTS // CLIENTS, n, out)
                )
                for n in range(CLIENTS)
            ]
            for client in clients:
                client.start()
            results = [out.get() for _ in clients]
            for client in clients:
                client.join()
            done.set()
            monkey.join()
            wait_until(lambda: _caught_up(services), 600, "projections and deliveries")
        finally:
            deployment.stop()

        statuses: Counter[int] = Counter()
        for _, counts in results:
            statuses.update({int(k): v for k, v in counts.items()})
        acked = [pair for pairs, _ in results for pair in pairs]
        print(f"\nsoak: {len(acked)} acknowledged; answers {dict(statuses)}; chaos {chaos_log}")
        assert statuses[500] == 0
        for happened in ("redis restored", "database restored", "killed a worker"):
            assert any(happened in line for line in chaos_log), f"the chaos never {happened}"
        assert statuses[503] > 0  # while the database was away, writers were told so at once

        # every acknowledged statement is in the log exactly once
        recorded: Counter[tuple[str, str]] = Counter()
        after = 0
        while entries := read_log(services.app, after, 5000):
            for entry in entries:
                if entry.type == "StatementRecorded":
                    recorded[(entry.incident_id, entry.data["statement"]["id"])] += 1
            after = entries[-1].position
        assert len(acked) == STATEMENTS // CLIENTS * CLIENTS
        assert all(recorded[pair] == 1 for pair in acked)
        assert len(recorded) == len(acked)

        # every projection equals a rebuild
        schema = settings.database_schema + "_rebuilt"
        fresh = _fresh_views(settings, schema, request)
        for name, projection in services.projections.items():
            if not projection.rebuildable:
                continue
            rebuild(services.app, fresh, [projection], 2000)
            for table in projection.tables:
                assert table_rows(services.views, table) == table_rows(fresh, table), name

        # every delivery recorded once (primary key) and delivered; the receiver got each event
        counts = status_counts(services.views)
        assert counts["delivered"] == len(acked) and sum(counts.values()) == len(acked)
        got = {r.webhook_id for r in receiver.accepted()}
        assert len(got) == len(acked)
        services.close()


def _caught_up(services: Services) -> bool:
    if any(s.lag for s in services.runner.status()):
        return False
    counts = status_counts(services.views)
    return counts["delivered"] == sum(counts.values()) > 0


def _fresh_views(settings: Settings, schema: str, request: pytest.FixtureRequest) -> PostgresViews:
    import psycopg

    assert settings.postgres is not None
    with psycopg.connect(settings.postgres.conninfo(), autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")

    def drop() -> None:
        with psycopg.connect(settings.postgres.conninfo(), autocommit=True) as connection:  # type: ignore[union-attr]
            connection.execute(f"DROP SCHEMA {schema} CASCADE")

    request.addfinalizer(drop)
    return PostgresViews(settings.postgres.conninfo(), schema, 2)

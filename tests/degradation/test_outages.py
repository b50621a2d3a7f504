"""Outages for real: PostgreSQL and Redis reached through a proxy that the test cuts.

With the database gone the API answers 503 (never a 500, never a hang) and recovers by itself;
with Redis gone, writes and SQL reads still work and /ready says what is missing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient

from api import create_app
from tests.conftest import WRITE_KEY
from tests.factories import a_statement, an_incident, as_json
from tests.proxy import Proxy
from timeline.bootstrap import Services, build
from timeline.config import Settings
from timeline.outage import DatabaseUnavailable

WRITER = {"Authorization": f"Bearer {WRITE_KEY}"}


@pytest.fixture
def backend() -> str:
    """These outages are of servers: PostgreSQL (SQLite is a file in the process)."""
    return "postgres"


def _proxied(url: str) -> tuple[Proxy, str]:
    parts = urlsplit(url)
    proxy = Proxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    netloc = parts.netloc.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{proxy.port}")
    if parts.port is None:
        netloc = f"{parts.netloc}:{proxy.port}".replace(parts.hostname or "", "127.0.0.1")
    return proxy, parts._replace(netloc=netloc).geturl()


@pytest.fixture
def database(settings: Settings) -> Iterator[tuple[Proxy, Services, FlaskClient]]:
    """Services whose PostgreSQL connections all go through a proxy."""
    assert settings.database_url
    proxy, url = _proxied(settings.database_url)
    # A short wait for a pooled connection keeps this test short: the first call to find
    # the server gone waits this long, then trips the gate (timeline.outage).
    services = build(settings.with_changes(database_url=url, database_connect_timeout=1.0))
    app = create_app(services=services)
    yield proxy, services, app.test_client()
    proxy.cut()
    services.close()


def wait_for_status(client: FlaskClient, path: str, wanted: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    status = client.get(path).status_code
    while status != wanted and time.monotonic() < deadline:
        time.sleep(0.5)
        status = client.get(path).status_code
    return status


def test_database_down_is_503_and_recovers_without_a_restart(
    database: tuple[Proxy, Services, FlaskClient], caplog: pytest.LogCaptureFixture
) -> None:
    proxy, _, client = database
    created = client.post("/api/v1/incidents", json=as_json(an_incident()), headers=WRITER)
    assert created.status_code == 201
    incident = f"/api/v1/incidents/{created.json['id']}"

    proxy.cut()
    write = client.post(f"{incident}/statements", json=as_json(a_statement()), headers=WRITER)
    assert write.status_code == 503, write.json
    assert write.headers["Retry-After"]
    assert "unreachable" in write.json["message"]

    # The first failure tripped the gate: from now on every call is refused by the gate at
    # once (after at most one probe a second), not after the event store's ten retries.
    caplog.clear()
    again = client.post(f"{incident}/statements", json=as_json(a_statement()), headers=WRITER)
    assert again.status_code == 503
    assert client.get(incident).status_code == 503
    assert client.get("/api/v1/timeline").status_code == 503
    refusals = [r for r in caplog.records if r.getMessage().startswith("database unavailable")]
    assert len(refusals) == 3
    assert all(isinstance(r.args[0], DatabaseUnavailable) for r in refusals)  # type: ignore[index]
    ready = client.get("/api/v1/ready")
    assert ready.status_code == 503
    assert ready.json["database"] == "unreachable: DatabaseUnavailable"

    proxy.restore()
    assert wait_for_status(client, "/api/v1/ready", 200) == 200
    again = client.post(f"{incident}/statements", json=as_json(a_statement()), headers=WRITER)
    assert again.status_code == 201
    assert client.get("/api/v1/timeline").status_code == 200


def test_redis_down_keeps_writes_and_sql_reads_and_ready_says_so(
    settings: Settings, redis_url: str
) -> None:
    proxy, url = _proxied(redis_url)
    services = build(settings.with_changes(redis_url=url))
    client = create_app(services=services).test_client()
    try:
        proxy.cut()
        created = client.post(
            "/api/v1/incidents",
            json=as_json(an_incident()) | {"statements": [as_json(a_statement())]},
            headers=WRITER,
        )
        assert created.status_code == 201
        assert client.get(f"/api/v1/incidents/{created.json['id']}").status_code == 200
        assert client.get("/api/v1/timeline").status_code == 200
        ready = client.get("/api/v1/ready")
        assert ready.status_code == 200
        assert ready.json["redis"].startswith("unreachable")
        assert ready.json["projections"][0]["lag"] == 2  # nothing could be triggered

        proxy.restore()
        services.runner.sweep()  # what a worker's sweep does every few seconds
        services.runner.run_all()  # and the job it enqueued
        assert {p["lag"] for p in client.get("/api/v1/ready").json["projections"]} == {0}
    finally:
        proxy.cut()
        services.close()

"""Faults with real processes: a worker SIGKILLed mid catch-up, and concurrent writer processes."""

from __future__ import annotations

import multiprocessing
import signal
from pathlib import Path
from uuid import UUID

import pytest

from tests.e2e.processes import env_for, start, stop, wait_until
from tests.factories import a_statement, an_incident
from tests.integration.helpers import table_rows
from timeline.bootstrap import Services, build
from timeline.config import Settings
from timeline.projections.framework import rebuild
from timeline.projections.sql import PostgresViews, SQLiteViews, ViewDatabase

pytestmark = pytest.mark.e2e


def fresh_views(settings: Settings, tmp_path: Path, request: pytest.FixtureRequest) -> ViewDatabase:
    """An empty read-model database beside the test's own, for an independent rebuild."""
    if settings.postgres is None:
        return SQLiteViews(tmp_path / "rebuilt.sqlite3")
    schema = request.getfixturevalue("postgres_schema") + "_rebuilt"
    import psycopg

    with psycopg.connect(settings.postgres.conninfo(), autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    request.addfinalizer(lambda: _drop(settings, schema))
    return PostgresViews(settings.postgres.conninfo(), schema, 2)


def _drop(settings: Settings, schema: str) -> None:
    import psycopg

    assert settings.postgres is not None
    with psycopg.connect(settings.postgres.conninfo(), autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA {schema} CASCADE")


def test_a_worker_killed_mid_catch_up_ends_equal_to_a_rebuild(
    settings: Settings, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    settings = settings.with_changes(projection_batch_size=100, lock_timeout=3.0)
    services = build(settings)
    try:
        for _ in range(10):  # 10 x 300 incidents with 2 statements = 9,000 events: seconds
            services.app.apply_batch(  # of catch-up, time enough for the kill to land mid-way
                [
                    {**an_incident(), "statements": [a_statement(), a_statement()]}
                    for _ in range(300)
                ]
            )
        head = services.app.head()
        env = env_for(settings)
        worker = start(["worker"], env, tmp_path / "worker1.log")
        reached = wait_until(
            lambda: 0 < services.runner.position("timeline") < head and True,
            60,
            "the worker to start catching up",
        )
        stop(worker, signal.SIGKILL)
        killed_at = services.runner.position("timeline")
        assert reached and 0 < killed_at < head, "the kill must land mid catch-up"

        survivor = start(["worker"], env, tmp_path / "worker2.log")
        try:
            wait_until(
                lambda: services.runner.position("timeline") == head, 120, "the catch-up to finish"
            )
        finally:
            stop(survivor)

        views = fresh_views(settings, tmp_path, request)
        rebuild(services.app, views, [services.projections["timeline"]], 1000)
        assert table_rows(services.views, "timeline_items") == table_rows(views, "timeline_items")
        views.close()
    finally:
        services.close()


def _write_statements(settings: Settings, incident_id: str, writer: int, count: int) -> None:
    services = build(settings, create_tables=False)
    try:
        for n in range(count):
            services.app.record_statement(
                UUID(incident_id), a_statement(text=f"writer {writer} statement {n}")
            )
    finally:
        services.close()


def test_writer_processes_on_one_incident_lose_nothing(services: Services) -> None:
    incident_id = services.app.report_incident(an_incident()).incident_id
    context = multiprocessing.get_context("spawn")
    writers = [
        context.Process(target=_write_statements, args=(services.settings, incident_id, w, 25))
        for w in range(4)
    ]
    for process in writers:
        process.start()
    for process in writers:
        process.join(timeout=120)
        assert process.exitcode == 0
    view = services.app.get_incident(UUID(incident_id))
    texts = sorted(s["text"] for s in view["statements"])
    assert texts == sorted(f"writer {w} statement {n}" for w in range(4) for n in range(25))
    assert view["version"] == 101

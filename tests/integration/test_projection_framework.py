"""The projection framework on real databases: operational state is never dropped, rebuilds
read the log once, and every query says which log position it reflects."""

from __future__ import annotations

import subprocess
import sys
from typing import Any
from uuid import UUID

import pytest
from flask.testing import FlaskClient

from tests.e2e.processes import env_for
from tests.factories import a_statement, an_incident
from tests.integration.helpers import table_rows
from tests.integration.test_timeline_projection import current
from timeline.bootstrap import Services
from timeline.projections import framework
from timeline.projections.ceasefires import CeasefireFilter
from timeline.projections.claims import ClaimsFilter
from timeline.projections.framework import VersionChangeRefused, catch_up, migrate, rebuild
from timeline.projections.sources import SourcesFilter
from timeline.projections.timeline import TimelineFilter
from timeline.projections.webhooks import WebhookDispatcher

WEBHOOK_TABLES = ("webhook_deliveries", "webhook_attempts", "webhook_endpoints")


class NextDispatcher(WebhookDispatcher):
    """The dispatcher as a later release might declare it: a new schema version."""

    version = WebhookDispatcher.version + 1


def a_delivery_log(services: Services) -> dict[str, list[dict[str, Any]]]:
    """Some rows in every delivery-log table, as a running deployment would have."""
    with services.views.transaction() as cursor:
        cursor.execute(
            "INSERT INTO webhook_deliveries (subscription_id, position, event_type, incident_id, "
            "payload, status, attempts, next_attempt_at, created_at) "
            "VALUES ('s', 1, 'incident.reported', 'i', '{}', 'delivered', 1, NULL, 'now')"
        )
        cursor.execute(
            "INSERT INTO webhook_attempts (subscription_id, position, attempt, attempted_at, "
            "status_code, latency_ms, error) VALUES ('s', 1, 1, 'now', 200, 3.0, NULL)"
        )
        cursor.execute(
            "INSERT INTO webhook_endpoints (subscription_id, last_success_at) VALUES ('s', 'now')"
        )
    return {table: table_rows(services.views, table) for table in WEBHOOK_TABLES}


def test_a_new_dispatcher_version_is_refused_and_its_tables_stay(services: Services) -> None:
    services.app.report_incident(an_incident())
    services.runner.run_all()
    before = a_delivery_log(services)
    with pytest.raises(VersionChangeRefused, match="webhooks"):
        migrate(services.views, NextDispatcher(services.subscriptions.targets))
    assert {table: table_rows(services.views, table) for table in WEBHOOK_TABLES} == before
    assert services.runner.position("webhooks") == services.app.head()


def test_a_refused_dispatcher_shows_in_readiness_and_is_not_run(
    services: Services, client: FlaskClient
) -> None:
    before = a_delivery_log(services)
    services.projections["webhooks"] = NextDispatcher(services.subscriptions.targets)
    assert services.migrate() != []  # refused, logged, the rest migrated
    services.app.report_incident(an_incident())
    services.runner.run_all()
    ready = client.get("/api/v1/ready")
    assert ready.status_code == 503
    (webhooks,) = [p for p in ready.json["projections"] if p["name"] == "webhooks"]
    assert "version 1" in webhooks["problem"] and "version 2" in webhooks["problem"]
    assert webhooks["position"] == 0  # not run with tables of the wrong version
    assert services.runner.sweep() == []  # and the sweep does not keep triggering jobs for it
    assert {table: table_rows(services.views, table) for table in WEBHOOK_TABLES} == before
    metrics = client.get("/api/v1/metrics").text
    assert 'timeline_projection_blocked{projection="webhooks"} 1.0' in metrics
    others = [p for p in ready.json["projections"] if p["name"] != "webhooks"]
    assert {p["lag"] for p in others} == {0}


def test_rebuild_and_migrate_commands_refuse_loudly(services: Services) -> None:
    env = env_for(services.settings)
    asked = subprocess.run(
        [sys.executable, "-m", "cli", "rebuild", "webhooks"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert asked.returncode == 2
    assert "cannot rebuild 'webhooks'" in asked.stderr
    with pytest.raises(VersionChangeRefused):
        rebuild(services.app, services.views, [services.projections["webhooks"]])


@pytest.mark.parametrize("backend", ["sqlite"])
def test_migrate_exits_1_naming_a_refused_projection(services: Services, backend: str) -> None:
    with services.views.transaction() as cursor:  # as if the code had moved on a version
        cursor.execute("UPDATE projection_positions SET version = 0 WHERE name = 'webhooks'")
    migrated = subprocess.run(
        [sys.executable, "-m", "cli", "migrate"],
        env=env_for(services.settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert migrated.returncode == 1
    assert "refused" in migrated.stderr and "'webhooks'" in migrated.stderr


def test_rebuilding_every_read_model_reads_the_log_once(services: Services) -> None:
    for _ in range(30):
        services.app.report_incident(an_incident(), statements=[a_statement(), a_statement()])
    services.runner.run_all()
    read_models = [p for p in services.projections.values() if p.rebuildable]
    before = {p.name: {t: table_rows(services.views, t) for t in p.tables} for p in read_models}
    recorder = services.app.recorder
    select = recorder.select_notifications
    calls: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        found = select(*args, **kwargs)
        calls.append(len(found))
        return found

    recorder.select_notifications = counted  # type: ignore[method-assign]
    try:
        applied = rebuild(services.app, services.views, read_models, batch_size=25)
        head = services.app.head()
        assert applied == head * len(read_models)
        assert sum(calls) == head  # every event read once, not once per projection
        # A full first batch means a backlog: the rest comes in one large batch, then an empty
        # read; at the head, a batch is what has arrived
        assert calls == [25, head - 25, 0]
        after = {p.name: {t: table_rows(services.views, t) for t in p.tables}
                 for p in read_models}  # fmt: skip
        assert after == before
        calls.clear()
        services.app.report_incident(an_incident(), statements=[a_statement()])
        catch_up(services.app, services.views, read_models, batch_size=25)
        assert calls == [2, 0]
    finally:
        recorder.select_notifications = select  # type: ignore[method-assign]


def test_every_query_answers_with_the_position_it_reflects(services: Services) -> None:
    written = services.app.report_incident(
        an_incident(), statements=[a_statement(), a_statement(stance="denial")]
    )
    services.runner.run_all()
    reads = services.reads
    head = services.app.head()
    assert reads.timeline(TimelineFilter(), None, 10).position == head
    assert reads.claims(ClaimsFilter(), None, 10).position == head
    assert reads.ceasefires(CeasefireFilter(), None, 10).position == head
    assert reads.sources(SourcesFilter(), None, 10).position == head
    assert reads.history(written.incident_id).position == head
    services.app.record_statement(UUID(written.incident_id), a_statement())  # not yet projected
    assert reads.timeline(TimelineFilter(), None, 10).position == head
    assert len(reads.timeline(TimelineFilter(), None, 10).items) == 3
    services.runner.run("timeline")
    page = reads.timeline(TimelineFilter(), None, 10)
    assert (page.position, len(page.items)) == (head + 1, 4)


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_large_catch_up_refreshes_the_planners_statistics(
    services: Services, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(framework, "ANALYZE_AFTER", 10)

    def analysed(table: str) -> int:
        rows = services.views.query(
            "SELECT COUNT(*) AS n FROM pg_stats WHERE schemaname = ? AND tablename = ?",
            (services.settings.database_schema, table),
        )
        return int(rows[0]["n"])

    services.app.report_incident(an_incident(), statements=[a_statement() for _ in range(3)])
    services.runner.run_all()
    assert analysed("timeline_items") == 0  # 4 events: below the threshold
    services.app.report_incident(an_incident(), statements=[a_statement() for _ in range(12)])
    services.runner.run_all()
    assert analysed("timeline_items") > 0
    assert analysed("source_records") > 0


def test_a_rebuild_is_built_beside_and_swapped_in_whole(services: Services) -> None:
    app, runner = services.app, services.runner
    for _ in range(12):
        app.report_incident(an_incident(), statements=[a_statement(), a_statement()])
    runner.run_all()
    read_models = [n for n, p in services.projections.items() if p.rebuildable]
    before = {n: {t: table_rows(services.views, t) for t in services.projections[n].tables}
              for n in read_models}  # fmt: skip
    shown = len(current(services))
    seen_meanwhile: list[int] = []

    def during(reached: int) -> None:
        seen_meanwhile.append(len(current(services)))  # what a reader sees while it runs
        if len(seen_meanwhile) == 1:  # the log grows while the shadows are built
            app.report_incident(an_incident(title="Written during the rebuild"))
            runner.run_all()  # the live models keep following it

    runner.batch_size = 5
    runner.rebuild(read_models, during)

    assert seen_meanwhile and min(seen_meanwhile) >= shown  # never a half-built model
    status = {s.name: s for s in runner.status()}
    assert all(status[n].position == app.head() for n in read_models)
    assert any(i["incident"]["title"] == "Written during the rebuild" for i in current(services))
    runner.rebuild(read_models)  # again: nothing of the first swap is in the way
    for name in read_models:  # the same as built incrementally (plus the new incident)
        projection = services.projections[name]
        runner.run(name)
        after = {t: table_rows(services.views, t) for t in projection.tables}
        assert set(after) == set(before[name])
        assert all(len(after[t]) >= len(before[name][t]) for t in after), name
    assert not [r for r in services.views.query("SELECT name FROM projection_positions")
                if r["name"].endswith("__next")]  # fmt: skip


def test_rebuild_names_every_read_model_on_one_line_when_piped(services: Services) -> None:
    env = {**env_for(services.settings), "COLUMNS": "40"}
    done = subprocess.run(
        [sys.executable, "-m", "cli", "rebuild"], env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (line,) = [s for s in done.stderr.splitlines() if s.startswith("rebuilding ")]
    names = [n for n, p in services.projections.items() if p.rebuildable]
    assert line == f"rebuilding {', '.join(names)} from the 0 event(s) of the log"

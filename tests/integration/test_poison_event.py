"""A poison event stops only its projection, just before it; it is shown, retried with
backoff instead of at every sweep, and the projection resumes once the cause is fixed."""

from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner

from api import create_app
from cli import main
from tests.factories import a_statement, an_incident
from timeline.bootstrap import Services
from timeline.config import Settings
from timeline.projections import failures
from timeline.projections.runner import ProjectionsFailed


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """The event is edited in the SQLite file."""
    return str(request.param)


def edit_stored(settings: Settings, old: bytes, new: bytes) -> None:
    """Edit one stored event in place, as a bug or someone with database access could."""
    with sqlite3.connect(settings.events_path) as db:
        rows = db.execute("SELECT rowid, state FROM stored_events").fetchall()
        (rowid, state), *more = [(r, s) for r, s in rows if old in s]
        assert not more
        db.execute("UPDATE stored_events SET state = ? WHERE rowid = ?",
                   (state.replace(old, new), rowid))  # fmt: skip


def test_a_poison_event_stops_its_projection_just_before_it_until_fixed(
    services: Services, cli_env: Settings
) -> None:
    app, runner = services.app, services.runner
    app.report_incident(an_incident(title="Before"), statements=[a_statement()])
    poison = app.report_incident(an_incident(title="Poison")).position
    app.report_incident(an_incident(title="After"))
    head = app.head()
    # a title the timeline cannot store (its column is NOT NULL): that projection fails there
    edit_stored(services.settings, b'"title":"Poison"', b'"title":null')

    with pytest.raises(ProjectionsFailed, match="timeline"):
        runner.run_all()

    status = {s.name: s for s in runner.status()}
    assert status["timeline"].position == poison - 1  # applied up to just before it
    stopped = status["timeline"].stopped
    assert stopped is not None and stopped.position == poison and stopped.attempts == 1
    assert "IntegrityError" in stopped.error or "NULL" in stopped.error
    assert status["ledger"].position == head and status["ledger"].stopped is None  # others go on
    ready = create_app(services=services).test_client().get("/api/v1/ready")
    assert ready.status_code == 200  # still ready: reads work, one model lags
    timeline = next(p for p in ready.json["projections"] if p["name"] == "timeline")
    assert timeline["stopped"]["position"] == poison
    metrics = create_app(services=services).test_client().get("/api/v1/metrics").data.decode()
    assert f'timeline_projection_stopped_at{{projection="timeline"}} {float(poison)}' in metrics
    shown = CliRunner().invoke(main, ["status"])
    assert shown.exit_code == 1 and f"stopped at log position {poison}" in shown.output

    # not retried by every job or sweep: it waits for its next try
    runner.run_all()
    assert runner.sweep() == []
    assert failures.failures(services.views)["timeline"].attempts == 1

    # the cause is fixed; resumed (or at its next try) it catches up and is no longer stopped
    edit_stored(services.settings, b'"title":null', b'"title":"Poison"')
    resumed = CliRunner().invoke(main, ["resume"])
    assert resumed.exit_code == 0 and "timeline" in resumed.output
    runner.run_all()
    status = {s.name: s for s in runner.status()}
    assert status["timeline"].position == head and status["timeline"].stopped is None


def test_failing_again_at_the_same_event_waits_longer(services: Services) -> None:
    first = failures.record(services.views, "timeline", 7, ValueError("bad"))
    again = failures.record(services.views, "timeline", 7, ValueError("bad"))
    elsewhere = failures.record(services.views, "timeline", 9, ValueError("bad"))
    assert (first.attempts, again.attempts, elsewhere.attempts) == (1, 2, 1)
    assert failures.backoff(1).total_seconds() == 5 and failures.backoff(2).total_seconds() == 10
    assert failures.backoff(30).total_seconds() == failures.MAX_BACKOFF_SECONDS
    assert not again.due() and again.retry_at > again.failed_at

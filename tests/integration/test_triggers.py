"""Projection triggers, locks and the sweep, on a real Redis with a real RQ worker (burst)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from uuid import UUID

import pytest
from rq import Queue

from tests.factories import a_statement, an_incident
from timeline.bootstrap import Services, build
from timeline.config import Settings
from timeline.event_log import LogEntry
from timeline.outage import DatabaseUnavailable
from timeline.projections.framework import migrate
from timeline.projections.runner import ProjectionsFailed
from timeline.projections.sql import Cursor
from workers.worker import run_worker


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """Trigger logic does not depend on the storage backend."""
    return str(request.param)


def queued(services: Services) -> int:
    """Catch-up jobs waiting in the queue."""
    jobs = Queue(services.settings.queue_name, connection=services.redis).get_jobs()
    return sum(1 for job in jobs if job.func_name == "workers.jobs.catch_up")


def test_a_burst_of_appends_costs_one_job(services: Services) -> None:
    incident = UUID(services.app.report_incident(an_incident()).incident_id)
    for _ in range(200):
        services.app.record_statement(incident, a_statement())
    assert queued(services) == 1


def test_the_worker_drains_the_queue_and_the_projection_catches_up(services: Services) -> None:
    services.app.apply_batch([an_incident() for _ in range(120)])
    run_worker(services, burst=True, with_scheduler=False)
    assert services.runner.position("timeline") == services.app.head() == 120
    assert queued(services) == 0
    # an append after the job cleared its flag triggers a new job
    services.app.report_incident(an_incident())
    assert queued(services) == 1


def test_writes_succeed_when_redis_is_down(settings: Settings) -> None:
    broken = build(settings.with_changes(redis_url="redis://127.0.0.1:1/0"))
    try:
        written = broken.app.report_incident(an_incident(), statements=[a_statement()])
        assert broken.app.get_incident(UUID(written.incident_id))["version"] == 2
    finally:
        broken.close()


def test_the_sweep_triggers_only_lagging_projections(services: Services) -> None:
    assert services.runner.sweep() == []
    services.redis.flushdb()  # as if the append's trigger was lost
    services.app.report_incident(an_incident())
    services.redis.flushdb()
    assert services.runner.sweep() == list(services.projections)
    assert queued(services) == 1


def test_one_catch_up_at_a_time(services: Services) -> None:
    services.app.report_incident(an_incident())
    lock = services.redis.lock(services.runner.lock_prefix + "timeline", timeout=5)
    assert lock.acquire(blocking=False)
    try:
        with pytest.raises(TimeoutError):
            services.runner.run("timeline", wait=0.3)
        assert services.runner.position("timeline") == 0
    finally:
        lock.release()
    assert services.runner.run("timeline") == 1


def test_appends_while_a_job_runs_enqueue_nothing_and_are_not_left_behind(
    services: Services,
) -> None:
    incident = UUID(services.app.report_incident(an_incident()).incident_id)
    assert queued(services) == 1  # the report claimed the flag and enqueued the job
    appended = 0

    def append_during_batches(position: int) -> None:
        nonlocal appended
        if appended < 30:  # each batch of the running job sees new appends arrive
            for _ in range(10):
                services.app.record_statement(incident, a_statement())
            appended += 10

    services.runner.run_all(on_batch=append_during_batches)
    assert appended == 30
    assert all(s.position == s.head == 31 for s in services.runner.status())
    assert queued(services) == 1  # still only the job that was enqueued first


def test_a_dead_jobs_flag_expires_and_the_sweep_recovers(settings: Settings) -> None:
    services = build(settings.with_changes(lock_timeout=1.0))
    try:
        services.app.report_incident(an_incident())  # claims the flag; its job never runs
        Queue(settings.queue_name, connection=services.redis).empty()
        services.app.report_incident(an_incident())
        assert queued(services) == 0  # the flag still says a job is coming
        time.sleep(1.5)
        assert services.runner.sweep() == list(services.projections)
        assert queued(services) == 1
    finally:
        services.close()


def test_a_lingering_job_gives_its_worker_up_to_waiting_jobs(services: Services) -> None:
    # Under steady appends the catch-up job lingers; if it did so while other jobs waited,
    # webhook deliveries would starve behind it.
    services.runner.linger = 60.0
    services.app.report_incident(an_incident())
    services.webhook_queue().enqueue("workers.jobs.deliver", "a-subscription")
    job = threading.Thread(target=services.runner.run_all, daemon=True)
    job.start()
    job.join(timeout=10)
    assert not job.is_alive(), "the job kept lingering while another job waited"
    assert services.runner.position("timeline") == services.app.head()


def test_the_job_skips_a_projection_being_rebuilt_and_catches_up_the_rest(
    services: Services,
) -> None:
    services.app.report_incident(an_incident())
    lock = services.redis.lock(services.runner.lock_prefix + "timeline", timeout=5)
    assert lock.acquire(blocking=False)
    try:
        services.runner.run_all()
    finally:
        lock.release()
    reached = {s.name: s.position for s in services.runner.status()}
    assert reached.pop("timeline") == 0
    assert set(reached.values()) == {1}


class Poisoned:
    """A projection that cannot apply anything (a bug, or an event it does not understand)."""

    name = "poisoned"
    version = 1
    tables: tuple[str, ...] = ()

    def create_tables(self, cursor: Cursor) -> None:
        """Nothing to create."""

    def apply(self, cursor: Cursor, entries: Sequence[LogEntry]) -> None:
        """Always fails."""
        raise ValueError("cannot apply")


def test_a_projection_that_fails_does_not_hold_the_others_back(services: Services) -> None:
    poisoned = Poisoned()
    migrate(services.views, poisoned)
    services.projections[poisoned.name] = poisoned
    services.app.report_incident(an_incident(), statements=[a_statement()])
    with pytest.raises(ProjectionsFailed, match="poisoned"):
        services.runner.run_all()
    reached = {s.name: s.position for s in services.runner.status()}
    assert reached.pop("poisoned") == 0
    assert set(reached.values()) == {2}


class Unreachable(Poisoned):
    """A projection whose database went away while it applied."""

    name = "unreachable"

    def apply(self, cursor: Cursor, entries: Sequence[LogEntry]) -> None:
        """Fails as the database gate does during an outage."""
        raise DatabaseUnavailable("database unreachable: connection refused")


def test_an_unreachable_database_fails_the_job_instead_of_blaming_the_projection(
    services: Services,
) -> None:
    unreachable = Unreachable()
    migrate(services.views, unreachable)
    services.projections[unreachable.name] = unreachable
    services.app.report_incident(an_incident())
    with pytest.raises(DatabaseUnavailable):  # the job fails; RQ and the sweep try again
        services.runner.run_all()
    del services.projections[unreachable.name]  # the database is back
    services.runner.run_all()
    assert {s.lag for s in services.runner.status()} == {0}


def test_deployments_sharing_a_redis_do_not_share_flags_or_locks(
    services: Services, settings: Settings, tmp_path: Path
) -> None:
    other = build(settings.with_changes(data_dir=tmp_path / "other", queue_name="other-queue"))
    try:
        other.app.report_incident(an_incident())  # the other deployment's flag and job
        lock = other.redis.lock(other.runner.lock_prefix + "timeline", timeout=5)
        assert lock.acquire(blocking=False)  # e.g. the other deployment rebuilding
        try:
            services.app.report_incident(an_incident())
            assert queued(services) == 1  # its own flag was free
            services.runner.run_all()
            assert services.runner.position("timeline") == 1  # its own lock was free
        finally:
            lock.release()
    finally:
        other.close()

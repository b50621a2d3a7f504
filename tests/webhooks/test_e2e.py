"""Webhooks with real worker processes: retries through RQ's scheduler, and a SIGKILLed worker."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

import pytest

from tests.e2e.processes import env_for, start, stop, wait_until
from tests.factories import a_statement, an_incident
from tests.webhooks.helpers import subscribe
from tests.webhooks.receiver import Answer, Receiver, running
from timeline.bootstrap import Services
from timeline.config import Settings
from timeline.webhooks.delivery_log import list_deliveries

pytestmark = pytest.mark.e2e


def test_a_receiver_down_at_first_is_retried_by_the_scheduler_until_it_takes_it(
    settings: Settings, services: Services, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.script = [Answer(status=503), Answer(hang_up=True)]
    sid = subscribe(services, receiver, event_types=["statement.recorded"])
    worker = start(["worker"], env_for(settings), tmp_path / "worker.log")
    try:
        services.app.report_incident(an_incident(), statements=[a_statement()])
        (delivered,) = receiver.wait_for(1, timeout=60)
    finally:
        stop(worker)
    assert [r.answered for r in receiver.received] == [503, None, 200]
    assert {r.webhook_id for r in receiver.received} == {delivered.webhook_id}
    log = list_deliveries(services.views, sid)[0]
    assert log["status"] == "delivered"
    assert len(log["attempts"]) == 3


def test_a_worker_killed_mid_dispatch_loses_and_doubles_no_delivery_record(
    settings: Settings, services: Services, tmp_path: Path
) -> None:
    settings = settings.with_changes(projection_batch_size=20, lock_timeout=3.0)
    with running(Receiver()) as first, running(Receiver()) as second:
        subscriptions = {
            subscribe(services, first, event_types=["statement.recorded"]): first,
            subscribe(services, second, event_types=["incident.reported"]): second,
        }
        services.app.on_append = lambda position: None  # the workers find the log themselves
        for _ in range(5):
            services.app.apply_batch(
                [{**an_incident(), "statements": [a_statement()]} for _ in range(100)]
            )
        head = services.app.head()
        env = env_for(settings)
        worker = start(["worker"], env, tmp_path / "worker1.log")
        wait_until(
            lambda: 0 < services.runner.position("webhooks") < head,
            60,
            "the dispatcher to be part way",
        )
        stop(worker, signal.SIGKILL)
        killed_at = services.runner.position("webhooks")
        worker = start(["worker"], env, tmp_path / "worker2.log")
        try:
            first.wait_for(500, timeout=120)
            second.wait_for(500, timeout=120)
        finally:
            stop(worker)

    assert 0 < killed_at < head
    for sid, receiver in subscriptions.items():
        rows = list_deliveries(services.views, sid, limit=10_000)
        positions = [r["position"] for r in rows]
        assert len(positions) == len(set(positions)) == 500
        assert {r["status"] for r in rows} == {"delivered"}
        received = Counter(r.webhook_id for r in receiver.accepted())
        assert set(received) == {f"msg_{p}" for p in positions}

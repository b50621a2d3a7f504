"""Delivery to real loopback receivers, verified with the standardwebhooks package.

Jobs run in this process (dispatcher, then each subscription's delivery job) on SQLite and
PostgreSQL, with the real Redis; the scheduler path is covered end to end in test_e2e.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import UUID

import pytest

from tests.factories import a_statement, an_incident
from tests.webhooks.helpers import deliver, subscribe
from tests.webhooks.receiver import Answer, Receiver, running
from timeline.bootstrap import Services
from timeline.webhooks.delivery_log import list_deliveries

UA = {"name": "Ukrainian General Staff", "side": "UA", "type": "military"}


def report(services: Services, kind: str = "strike", claims: int = 1) -> UUID:
    """An incident with ``claims`` Russian claims; returns its id."""
    statements = [a_statement() for _ in range(claims)]
    written = services.app.report_incident(an_incident(kind=kind), statements=statements)
    return UUID(written.incident_id)


def test_each_event_type_is_delivered_signed_with_a_stable_id(
    services: Services, receiver: Receiver
) -> None:
    sid = subscribe(services, receiver)
    incident = report(services)
    services.app.amend_incident(incident, {"title": "Strike on Kramatorsk"}, "Shorter title")
    denial = services.app.record_statement(incident, a_statement(stance="denial", source=UA))
    services.app.withdraw_statement(incident, denial.statement["id"], "Wrong incident")  # type: ignore[index]

    deliver(services, sid)

    got = sorted(receiver.wait_for(5), key=lambda r: r.payload["data"]["position"])
    assert [r.payload["type"] for r in got] == [
        "incident.reported",
        "statement.recorded",
        "incident.amended",
        "statement.recorded",
        "statement.withdrawn",
    ]
    assert all(r.verified_with == receiver.secrets for r in got)
    positions = [r.payload["data"]["position"] for r in got]
    assert [r.webhook_id for r in got] == [f"msg_{p}" for p in positions]
    assert got[2].payload["data"]["changes"] == {"title": "Strike on Kramatorsk"}
    assert got[3].payload["data"]["statement"]["source"]["side"] == "UA"
    assert {r.payload["data"]["incident_id"] for r in got} == {str(incident)}
    assert datetime.fromisoformat(got[0].payload["timestamp"]).tzinfo is not None


def test_only_events_after_the_subscription_are_sent(
    services: Services, receiver: Receiver
) -> None:
    report(services)
    sid = subscribe(services, receiver)
    report(services)
    deliver(services, sid)
    assert len(receiver.wait_for(2)) == 2
    time.sleep(0.1)
    assert len(receiver.received) == 2  # the incident and claim before subscribing: not sent


def test_filters_by_event_type_kind_and_side(services: Services) -> None:
    with running(Receiver()) as strikes, running(Receiver()) as ukrainian:
        by_kind = subscribe(services, strikes, filter={"kinds": ["strike"], "sides": []})
        by_side = subscribe(
            services,
            ukrainian,
            event_types=["statement.recorded", "statement.withdrawn"],
            filter={"kinds": [], "sides": ["UA"]},
        )
        strike = report(services, kind="strike")
        shelling = report(services, kind="shelling")
        ua = services.app.record_statement(shelling, a_statement(stance="denial", source=UA))
        services.app.record_statement(strike, a_statement(text="A second Russian claim."))
        russian = services.app.record_statement(shelling, a_statement(text="Another claim."))
        services.app.withdraw_statement(shelling, russian.statement["id"], "Duplicate")  # type: ignore[index]
        services.app.withdraw_statement(shelling, ua.statement["id"], "Duplicate")  # type: ignore[index]

        deliver(services, by_kind, by_side)

        strike_events = strikes.wait_for(3)
        ua_events = ukrainian.wait_for(2)
        time.sleep(0.1)
    assert len(strikes.received) == 3 and len(ukrainian.received) == 2
    assert {r.payload["data"]["incident_id"] for r in strike_events} == {str(strike)}
    ua_events.sort(key=lambda r: r.payload["data"]["position"])
    assert [r.payload["type"] for r in ua_events] == ["statement.recorded", "statement.withdrawn"]
    assert ua_events[1].payload["data"]["statement_id"] == ua.statement["id"]  # type: ignore[index]


def test_a_receiver_down_at_first_gets_the_event_once_up_with_the_same_id(
    services: Services, receiver: Receiver
) -> None:
    receiver.script = [Answer(hang_up=True), Answer(status=503)]
    sid = subscribe(services, receiver)
    report(services, claims=0)  # one event: the script answers it alone

    deliver(services, sid)  # first attempt: connection closed
    registry = services.webhook_queue().scheduled_job_registry
    assert registry.get_job_ids(), "the retry was not handed to RQ's scheduler"
    for _ in range(2):  # the retries, as the scheduled jobs would run them
        time.sleep(0.3)
        services.deliverer.drain(sid)

    assert len(receiver.wait_for(1)) == 1
    first = receiver.received
    assert [r.answered for r in first] == [None, 503, 200]
    assert len({r.webhook_id for r in first}) == 1
    delivery = list_deliveries(services.views, sid, position=1)[0]
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [None, 503, 200]
    assert delivery["attempts"][0]["error"]


def test_a_failing_receiver_is_held_back_then_probed_one_delivery_at_a_time(
    services: Services, receiver: Receiver
) -> None:
    receiver.default = Answer(status=503)
    sid = subscribe(services, receiver)
    report(services, claims=4)
    deliver(services, sid)
    assert len(receiver.received) == 5  # the first batch went out together
    services.deliverer.drain(sid)
    assert len(receiver.received) == 5  # held until the retry falls due
    time.sleep(0.3)
    services.deliverer.drain(sid)
    assert len(receiver.received) == 6  # one probe, not the whole backlog
    receiver.default = Answer(status=200)
    time.sleep(0.3)
    services.deliverer.drain(sid)
    assert len(receiver.accepted()) == 5  # the probe succeeded: the rest follows at once
    assert {d["status"] for d in list_deliveries(services.views, sid)} == {"delivered"}


def test_gone_disables_the_subscription(services: Services, receiver: Receiver) -> None:
    receiver.default = Answer(status=410)
    sid = subscribe(services, receiver)
    report(services, claims=0)  # one event: the script answers it alone
    deliver(services, sid)
    assert len(receiver.received) == 1

    subscription = services.subscriptions.get(UUID(sid))
    assert subscription["status"] == "disabled"
    assert "410" in subscription["disabled_reason"]
    report(services)
    deliver(services, sid)
    time.sleep(0.1)
    assert len(receiver.received) == 1


def test_sustained_failure_disables_and_says_why(services: Services, receiver: Receiver) -> None:
    services.deliverer.disable_after = 0.3
    receiver.default = Answer(status=500)
    sid = subscribe(services, receiver)
    report(services)
    deliver(services, sid)
    assert services.subscriptions.get(UUID(sid))["status"] == "active"  # one failure: not yet
    time.sleep(0.4)
    services.deliverer.drain(sid)

    subscription = services.subscriptions.get(UUID(sid))
    assert subscription["status"] == "disabled"
    assert "Every delivery attempt since" in subscription["disabled_reason"]
    assert "HTTP 500" in subscription["disabled_reason"]


def test_retry_after_pushes_the_next_attempt_back(services: Services, receiver: Receiver) -> None:
    receiver.script = [Answer(status=429, headers={"Retry-After": "120"})]
    sid = subscribe(services, receiver)
    report(services, claims=0)  # one event: the script answers it alone
    before = datetime.now(UTC)
    deliver(services, sid)
    delivery = list_deliveries(services.views, sid, position=1)[0]
    wait = datetime.fromisoformat(delivery["next_attempt_at"]) - before
    assert wait.total_seconds() >= 119  # the schedule alone says 0.2 s
    services.deliverer.drain(sid)
    assert len(receiver.received) == 1  # held back: nothing sent early


def test_redirects_are_failures_and_not_followed(services: Services, receiver: Receiver) -> None:
    with running(Receiver()) as elsewhere:
        receiver.script = [Answer(status=307, headers={"Location": elsewhere.url})]
        sid = subscribe(services, receiver)
        report(services, claims=0)
        deliver(services, sid)
        time.sleep(0.1)
    assert elsewhere.received == []
    attempt = list_deliveries(services.views, sid, position=1)[0]["attempts"][0]
    assert (attempt["status_code"], attempt["error"]) == (307, "HTTP 307")


def test_a_slow_receiver_times_out_and_others_still_get_theirs(
    services: Services, receiver: Receiver
) -> None:
    with running(Receiver()) as slow:
        slow.default = Answer(delay=3.0)
        stuck = subscribe(services, slow)
        fine = subscribe(services, receiver)
        report(services)
        deliver(services, stuck, fine)
        assert len(receiver.wait_for(2)) == 2
    attempt = list_deliveries(services.views, stuck, position=1)[0]["attempts"][0]
    assert attempt["status_code"] is None
    assert "timed out" in attempt["error"]


@pytest.fixture
def garbage_server() -> Iterator[str]:
    """A TCP server that answers every request with bytes that are not HTTP."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            with connection:
                connection.recv(65536)
                connection.sendall(b"this is not http\r\n\r\n")

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/"
    server.close()


def test_a_garbage_answer_is_a_recorded_failure(services: Services, garbage_server: str) -> None:
    created = services.subscriptions.create(
        {"url": garbage_server, "event_types": ["incident.reported"]}, services.app.head()
    )
    report(services)
    deliver(services, created["id"])
    delivery = list_deliveries(services.views, created["id"], position=1)[0]
    assert delivery["status"] == "pending"
    assert delivery["attempts"][0]["error"].startswith("BadStatusLine")


def test_rotation_signs_with_both_secrets_during_the_overlap_then_only_the_new(
    services: Services, receiver: Receiver
) -> None:
    from datetime import timedelta

    sid = subscribe(services, receiver, event_types=["incident.reported"])
    old = receiver.secrets[0]
    new = services.subscriptions.rotate_secret(UUID(sid), timedelta(seconds=0.5))["secret"]
    receiver.secrets.append(new)
    report(services)
    deliver(services, sid)
    time.sleep(0.6)
    report(services)
    deliver(services, sid)

    during, after = receiver.wait_for(2)
    assert during.verified_with == [old, new]
    assert after.verified_with == [new]
    assert len(after.headers["webhook-signature"].split(" ")) == 1


def test_replay_resends_matching_events_after_a_position(
    services: Services, receiver: Receiver
) -> None:
    from timeline.projections.webhooks import replay

    sid = subscribe(services, receiver, event_types=["statement.recorded"])
    report(services)
    report(services)
    report(services)
    deliver(services, sid)
    first = receiver.wait_for(3)

    target = services.subscriptions.target(UUID(sid))
    queued, reached, done = replay(services.app, services.views, target, after=2)
    services.deliverer.drain(sid)

    assert (queued, reached, done) == (2, 6, True)
    again = receiver.wait_for(5)[3:]
    originals = {r.webhook_id: r.body for r in first}
    assert sorted(r.webhook_id for r in again) == sorted(originals)[1:]
    assert all(r.body == originals[r.webhook_id] for r in again)  # the same bytes, re-signed


def test_replay_reaches_events_from_before_the_subscription(
    services: Services, receiver: Receiver
) -> None:
    from timeline.projections.webhooks import replay

    report(services)
    sid = subscribe(services, receiver, event_types=["incident.reported"])
    deliver(services, sid)
    queued, _, _ = replay(services.app, services.views, services.subscriptions.target(UUID(sid)), 0)
    services.deliverer.drain(sid)
    assert queued == 1
    assert receiver.wait_for(1)[0].webhook_id == "msg_1"


def test_a_paused_subscription_gets_nothing_and_no_delivery_is_recorded(
    services: Services, receiver: Receiver
) -> None:
    sid = subscribe(services, receiver)
    services.subscriptions.change(UUID(sid), {"status": "paused"})
    report(services)
    deliver(services, sid)
    assert receiver.received == []
    assert list_deliveries(services.views, sid) == []


def test_dispatching_twice_records_each_delivery_once(
    services: Services, receiver: Receiver
) -> None:
    from timeline.event_log import read_log
    from timeline.projections.framework import apply_batch

    sid = subscribe(services, receiver)
    report(services)
    dispatcher = services.projections["webhooks"]
    entries = read_log(services.app, 0, 10)
    apply_batch(services.views, dispatcher, entries, 0)
    # A second run from the same start (a killed job re-run) is refused as a whole.
    with pytest.raises(Exception, match="webhooks"):
        apply_batch(services.views, dispatcher, entries, 0)
    with services.views.transaction() as cursor:  # even applied directly, rows do not double
        dispatcher.apply(cursor, entries)
    assert len(list_deliveries(services.views, sid)) == 2

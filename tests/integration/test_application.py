"""TimelineApp on a real event store (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from tests.factories import T0, a_statement, an_incident
from timeline.bootstrap import Services
from timeline.domain import Conflict, IncidentNotFound, InvalidValue, StaleVersion


def test_report_record_amend_withdraw_and_read_back(services: Services) -> None:
    app = services.app
    reported = app.report_incident(an_incident(), statements=[a_statement()])
    incident_id = UUID(reported.incident_id)
    claim_id = reported.statements[0]["id"]
    denial = app.record_statement(
        incident_id, a_statement(stance="denial", responds_to=claim_id, figures=[])
    )
    app.amend_incident(incident_id, {"title": "Strike on Kramatorsk"}, "shorter")
    app.withdraw_statement(incident_id, claim_id, "recorded twice")

    view = app.get_incident(incident_id)
    assert view["version"] == 5
    assert view["title"] == "Strike on Kramatorsk"
    statements = {s["id"]: s for s in view["statements"]}
    assert statements[claim_id]["withdrawn"]["reason"] == "recorded twice"
    assert statements[denial.statement["id"]]["withdrawn"] is None  # type: ignore[index]
    assert denial.position > reported.position


def test_as_of_replays_what_was_known_then(services: Services) -> None:
    app = services.app
    reported = app.report_incident(an_incident(), statements=[a_statement()])
    incident_id = UUID(reported.incident_id)
    amended = app.amend_incident(incident_id, {"title": "Later title"}, "update")

    then = app.get_incident(incident_id, as_of=reported.recorded_at)
    assert then["title"] == "Missile strike on Kramatorsk"
    assert then["version"] == 2
    assert app.get_incident(incident_id, as_of=amended.recorded_at)["title"] == "Later title"
    with pytest.raises(IncidentNotFound) as caught:
        app.get_incident(incident_id, as_of=reported.recorded_at - timedelta(days=1))
    assert "not yet recorded" in caught.value.message


def test_stated_clock_orders_by_when_sources_spoke(services: Services) -> None:
    app = services.app
    early = a_statement(stated_at=T0 + timedelta(hours=1))
    late = a_statement(stated_at=T0 + timedelta(days=2), text="Later statement")
    reported = app.report_incident(an_incident(), statements=[late, early])
    view = app.get_incident(
        UUID(reported.incident_id), as_of=T0 + timedelta(hours=2), clock="stated"
    )
    assert [s["text"] for s in view["statements"]] == [early["text"]]
    with pytest.raises(IncidentNotFound):
        app.get_incident(UUID(reported.incident_id), as_of=T0 - timedelta(days=9), clock="stated")


def test_unknown_incident_and_duplicate_id(services: Services) -> None:
    app = services.app
    with pytest.raises(IncidentNotFound):
        app.record_statement(uuid4(), a_statement())
    chosen = uuid4()
    app.report_incident(an_incident(), incident_id=chosen)
    with pytest.raises(Conflict):
        app.report_incident(an_incident(), incident_id=chosen)


def test_a_rejected_batch_writes_nothing(services: Services) -> None:
    app = services.app
    existing = app.report_incident(an_incident())
    head = app.head()
    bad = [
        {**an_incident(), "statements": [a_statement()]},
        {"id": existing.incident_id, "statements": [a_statement(stance="rumour")]},
    ]
    with pytest.raises(InvalidValue) as caught:
        app.apply_batch(bad)
    assert caught.value.field == "items.1.statements.0.stance"
    assert app.head() == head


def test_batch_writes_everything_in_one_go(services: Services) -> None:
    app = services.app
    written = app.apply_batch(
        [{**an_incident(), "statements": [a_statement(), a_statement()]} for _ in range(5)]
    )
    assert len(written) == 5
    assert app.head() == 15
    assert all(w.position == 15 for w in written)


def test_a_batch_may_name_one_incident_in_several_items(services: Services) -> None:
    app = services.app
    chosen = str(uuid4())
    written = app.apply_batch(
        [
            {**an_incident(), "id": chosen, "statements": [a_statement()]},
            {"id": chosen, "statements": [a_statement(), a_statement()]},
        ]
    )
    assert [w.version for w in written] == [4, 4]
    assert len(app.get_incident(UUID(chosen))["statements"]) == 3


def test_a_batch_naming_an_unknown_incident_names_the_item(services: Services) -> None:
    with pytest.raises(InvalidValue) as caught:
        services.app.apply_batch([{"id": str(uuid4()), "statements": [a_statement()]}])
    assert caught.value.field == "items.0.id"


def test_two_writers_on_one_incident_both_succeed(services: Services) -> None:
    app = services.app
    incident_id = UUID(app.report_incident(an_incident()).incident_id)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(10):
                app.record_statement(incident_id, a_statement(text=f"writer {n} statement {i}"))
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    view = app.get_incident(incident_id)
    assert len(view["statements"]) == 40
    assert view["version"] == 41


def test_recorded_at_is_the_servers_clock(services: Services) -> None:
    before = datetime.now(UTC)
    written = services.app.report_incident(an_incident())
    assert before <= written.recorded_at <= datetime.now(UTC)


def test_as_of_finds_every_version_by_time_across_snapshots(services: Services) -> None:
    app = services.app
    incident_id = UUID(app.report_incident(an_incident()).incident_id)
    written = [app.record_statement(incident_id, a_statement(text=f"n{n}")) for n in range(450)]
    for probe in (0, 1, 199, 200, 201, 449):  # either side of the snapshots at 200 and 400
        view = app.get_incident(incident_id, as_of=written[probe].recorded_at)
        assert view["version"] == written[probe].version
        assert len(view["statements"]) == probe + 1
        assert view["statements"][-1]["recorded_at"] == written[probe].recorded_at


def test_of_writers_racing_from_one_version_exactly_one_wins(services: Services) -> None:
    app = services.app
    incident_id = UUID(app.report_incident(an_incident()).incident_id)
    read = app.get_incident(incident_id)["version"]
    start = threading.Barrier(6)
    outcomes: list[str] = []

    def edit(n: int) -> None:
        start.wait()
        try:
            app.amend_incident(incident_id, {"title": f"Edit {n}"}, "race", expected={read})
            outcomes.append("written")
        except StaleVersion:
            outcomes.append("stale")

    threads = [threading.Thread(target=edit, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["stale"] * 5 + ["written"]
    assert app.get_incident(incident_id)["version"] == read + 1


def test_on_the_stated_clock_a_version_is_the_last_one_the_view_shows(
    services: Services,
) -> None:
    app = services.app
    reported = app.report_incident(an_incident(), stated_at=T0)  # version 1
    incident_id = UUID(reported.incident_id)
    for hours in (1, 2, 3, 4):  # versions 2 to 5, said an hour apart
        app.record_statement(incident_id, a_statement(stated_at=T0 + timedelta(hours=hours)))

    def version(hours: float) -> int:
        moment = T0 + timedelta(hours=hours)
        return int(app.get_incident(incident_id, as_of=moment, clock="stated")["version"])

    assert [version(0), version(1.5), version(4)] == [1, 2, 5]
    diff = app.diff_incident(incident_id, T0, T0 + timedelta(hours=4), clock="stated")
    assert (diff["from_version"], diff["to_version"]) == (1, 5)
    assert len(diff["statements_added"]) == 4

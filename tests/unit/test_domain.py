"""The Incident aggregate's rules: each rejected command raises before any event exists."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.factories import T0, a_statement, an_incident
from timeline.domain import Conflict, Incident, InvalidValue, StatementNotFound


def reported(**overrides: object) -> Incident:
    incident = Incident.report(an_incident(**overrides))
    incident.collect_events()
    return incident


def test_reporting_normalises_times_to_utc_text() -> None:
    incident = Incident.report(an_incident())
    events = incident.collect_events()
    assert [type(e).__name__ for e in events] == ["IncidentReported"]
    assert incident.occurred == {
        "start": "2023-01-08T01:00:00.000000+00:00",
        "end": None,
        "precision": "hour",
    }


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "massacre"}, "kind"),
        ({"title": "  "}, "title"),
        ({"occurred": {"start": datetime(2023, 1, 8)}}, "occurred.start"),
        ({"occurred": {"start": T0, "end": T0 - timedelta(hours=1)}}, "occurred.end"),
        ({"occurred": {"start": T0, "precision": "second"}}, "occurred.precision"),
        ({"location": {"name": "X", "lat": 91, "lon": 0}}, "location.lat"),
        ({"location": {"name": "X", "lat": 10}}, "location.lon"),
        ({"actors": ["R U"]}, "actors.0"),
        ({"colour": "red"}, "incident.colour"),
    ],
)
def test_report_rejects_bad_fields_naming_them(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        Incident.report(an_incident(**overrides))
    assert caught.value.field == field


def test_a_ceasefire_window_may_be_open_ended() -> None:
    incident = reported(kind="ceasefire", occurred={"start": T0})
    assert incident.occurred["end"] is None


def test_recording_a_statement_keeps_figures_and_a_stable_id() -> None:
    incident = reported()
    statement = incident.record_statement(a_statement())
    assert statement["figures"] == [
        {
            "metric": "killed",
            "value": 600,
            "low": None,
            "high": None,
            "qualifier": "at_least",
            "subject": "UA",
        }
    ]
    recorded_at = statement.pop("recorded_at")
    assert incident.statements[statement["id"]] == statement
    assert recorded_at == incident.recorded_at[statement["id"]] == incident.modified_on
    assert [type(e).__name__ for e in incident.collect_events()] == ["StatementRecorded"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"stance": "rumour"}, "stance"),
        ({"stated_at": datetime(2023, 1, 8, 12)}, "stated_at"),
        ({"stated_at": "yesterday"}, "stated_at"),
        ({"source": {"name": "MoD", "side": "RU", "type": "oracle"}}, "source.type"),
        ({"figures": [{"metric": "killed", "value": 10, "low": 20}]}, "figures.0.low"),
        ({"figures": [{"metric": "killed", "value": 10, "high": 5}]}, "figures.0.high"),
        ({"figures": [{"metric": "Killed People", "value": 10}]}, "figures.0.metric"),
        ({"figures": [{"metric": "killed", "value": True}]}, "figures.0.value"),
        ({"citations": [{"url": "ftp://example.org/x"}]}, "citations.0.url"),
        ({"responds_to": "1b4e28ba-2fa1-11d2-883f-0016d3cca427"}, "responds_to"),
        ({"text": ""}, "text"),
    ],
)
def test_record_rejects_bad_statements_without_an_event(
    overrides: dict[str, object], field: str
) -> None:
    incident = reported()
    with pytest.raises(InvalidValue) as caught:
        incident.record_statement(a_statement(**overrides))
    assert caught.value.field == field
    assert incident.collect_events() == []


def test_a_denial_answers_a_statement_of_the_same_incident() -> None:
    incident = reported()
    claim = incident.record_statement(a_statement())
    denial = incident.record_statement(
        a_statement(
            stance="denial",
            responds_to=claim["id"],
            figures=[],
            source={"name": "Ukrainian army", "side": "UA", "type": "military"},
        )
    )
    assert denial["responds_to"] == claim["id"]


def test_a_statement_id_cannot_be_recorded_twice() -> None:
    incident = reported()
    statement = incident.record_statement(a_statement())
    from uuid import UUID

    with pytest.raises(Conflict):
        incident.record_statement(a_statement(), UUID(statement["id"]))


def test_withdrawal_once_only_and_of_a_known_statement() -> None:
    incident = reported()
    statement = incident.record_statement(a_statement())
    incident.withdraw_statement(statement["id"], "Recorded against the wrong incident.")
    with pytest.raises(Conflict):
        incident.withdraw_statement(statement["id"], "again")
    with pytest.raises(StatementNotFound):
        incident.withdraw_statement("nope", "no such statement")
    with pytest.raises(InvalidValue):
        incident.withdraw_statement(statement["id"], "")


def test_amend_keeps_only_real_changes_and_needs_a_reason() -> None:
    incident = reported()
    changed = incident.amend({"title": "Strike on Kramatorsk", "kind": "strike"}, "clearer title")
    assert changed == {"title": "Strike on Kramatorsk"}
    incident.collect_events()
    assert incident.amend({"title": "Strike on Kramatorsk"}, "nothing new") == {}
    assert incident.collect_events() == []  # current values change nothing: no event
    with pytest.raises(InvalidValue) as caught:
        incident.amend({"kind": "battle"}, " ")
    assert caught.value.field == "reason"
    with pytest.raises(InvalidValue) as caught:
        incident.amend({"kind": "massacre"}, "bad kind")
    assert caught.value.field == "kind"


def test_a_copy_does_not_share_what_later_changes() -> None:
    import copy

    incident = reported()
    incident.record_statement(a_statement())
    incident.collect_events()
    clone = copy.deepcopy(incident)
    statement = clone.record_statement(a_statement())
    clone.withdraw_statement(statement["id"], "test")
    clone.amend({"tags": ["x"]}, "tagging")
    assert len(incident.statements) == 1 and incident.withdrawals == {}
    assert incident.tags == [] and incident.version == 2
    assert len(incident.collect_events()) == 0
    assert len(clone.collect_events()) == 3

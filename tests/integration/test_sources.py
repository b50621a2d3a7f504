"""The sources projection's record per source, on real databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from tests.factories import T0, a_statement, an_incident
from timeline.bootstrap import Services
from timeline.projections.sources import SourcesFilter, query_sources

AFTER_EVERYTHING = "9999-12-31T00:00:00.000000+00:00"

MOD = {"name": "Russian Ministry of Defence", "side": "RU", "type": "military"}
UA_ARMY = {"name": "Ukrainian army", "side": "UA", "type": "military"}
KREMLIN = {"name": "Kremlin", "side": "RU", "type": "government"}


def sources(services: Services, **kwargs: Any) -> dict[str, dict[str, Any]]:
    """Records as the API reads them; "now" (the kept records) must equal the same records
    grouped from the statements at read time, as of a moment after everything."""
    services.runner.run("sources")
    with services.views.snapshot() as cursor:
        rows = query_sources(cursor, SourcesFilter(**kwargs), None, 1000)
        if "as_of" not in kwargs:
            grouped = SourcesFilter(**kwargs, as_of=AFTER_EVERYTHING)
            assert rows == query_sources(cursor, grouped, None, 1000)
    return {row["name"]: row for row in rows}


def test_counts_by_stance_and_answers_from_other_sides(services: Services) -> None:
    written = services.app.report_incident(an_incident(), statements=[
        a_statement(source=MOD, stated_at=T0),
        a_statement(source=MOD, stated_at=T0 + timedelta(days=2)),
    ])  # fmt: skip
    incident = UUID(written.incident_id)
    claim, second = (s["id"] for s in written.statements)
    app = services.app
    app.record_statement(incident, a_statement(source=UA_ARMY, stance="denial", responds_to=claim))
    app.record_statement(incident, a_statement(source=KREMLIN, stance="denial", responds_to=second))
    app.record_statement(incident, a_statement(source=MOD, stance="correction", responds_to=second))
    app.record_statement(
        incident, a_statement(source=UA_ARMY, stance="assessment", responds_to=second)
    )
    records = sources(services)
    mod = records["Russian Ministry of Defence"]
    assert (mod["statements"], mod["claims"], mod["corrections"]) == (3, 2, 1)
    assert mod["denied"] == 1  # the Kremlin is on the same side: not counted
    assert mod["contradicted"] == 2
    assert mod["first_statement_at"] < mod["last_statement_at"]
    assert records["Ukrainian army"]["denials_issued"] == 1
    assert next(iter(records)) == "Russian Ministry of Defence"  # most prolific first


def test_withdrawn_statements_and_as_of(services: Services) -> None:
    written = services.app.report_incident(an_incident(), statements=[a_statement(source=MOD)])
    withdrawal = services.app.withdraw_statement(
        UUID(written.incident_id), written.statements[0]["id"], "duplicate"
    )
    assert sources(services) == {}
    before = (withdrawal.recorded_at - timedelta(microseconds=1)).isoformat(timespec="microseconds")
    assert sources(services, as_of=before)["Russian Ministry of Defence"]["statements"] == 1
    assert sources(services, name="Nobody") == {}


def test_withdrawn_answers_and_answered_statements_leave_the_counts(services: Services) -> None:
    written = services.app.report_incident(an_incident(), statements=[a_statement(source=MOD)])
    incident, claim = UUID(written.incident_id), written.statements[0]["id"]
    denial = services.app.record_statement(
        incident, a_statement(source=UA_ARMY, stance="denial", responds_to=claim)
    ).statement
    assert denial is not None
    second = services.app.record_statement(
        incident, a_statement(source=UA_ARMY, stance="denial", responds_to=claim)
    ).statement
    assert second is not None
    assert sources(services)["Russian Ministry of Defence"]["denied"] == 1  # one statement
    services.app.withdraw_statement(incident, denial["id"], "duplicate")
    assert sources(services)["Russian Ministry of Defence"]["denied"] == 1  # still one denial
    services.app.withdraw_statement(incident, second["id"], "duplicate")
    mod = sources(services)["Russian Ministry of Defence"]
    assert (mod["denied"], mod["contradicted"]) == (0, 0)
    assert "Ukrainian army" not in sources(services)
    services.app.withdraw_statement(incident, claim, "wrong incident")
    assert sources(services) == {}


def test_sources_page_most_prolific_first(services: Services) -> None:
    names = [f"Source {n}" for n in range(5)]
    services.app.report_incident(
        an_incident(),
        statements=[
            a_statement(source={"name": name, "side": "UA", "type": "media"})
            for n, name in enumerate(names)
            for _ in range(n + 1)
        ],
    )
    services.runner.run("sources")
    seen: list[str] = []
    after = None
    with services.views.snapshot() as cursor:
        while rows := query_sources(cursor, SourcesFilter(), after, 2):
            seen += [row["name"] for row in rows]
            last = rows[-1]
            after = (last["statements"], last["name"], last["side"], last["type"])
    assert seen == list(reversed(names))

"""The sources projection's record per source, on real databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from tests.factories import T0, a_statement, an_incident
from timeline.bootstrap import Services
from timeline.projections.sources import query_sources

MOD = {"name": "Russian Ministry of Defence", "side": "RU", "type": "military"}
UA_ARMY = {"name": "Ukrainian army", "side": "UA", "type": "military"}
KREMLIN = {"name": "Kremlin", "side": "RU", "type": "government"}


def sources(services: Services, **kwargs: Any) -> dict[str, dict[str, Any]]:
    services.runner.run("sources")
    with services.views.snapshot() as cursor:
        return {row["name"]: row for row in query_sources(cursor, **kwargs)}


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

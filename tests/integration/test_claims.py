"""The claims projection's rules, on real databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from tests.factories import T0, a_statement, an_incident
from timeline.bootstrap import Services
from timeline.projections.claims import ClaimsFilter, query_claims

UA_ARMY = {"name": "Ukrainian army", "side": "UA", "type": "military"}
MAYOR = {"name": "Mayor", "side": "UA", "type": "official"}


def killed(value: int, qualifier: str = "exact", subject: str = "UA") -> list[dict[str, Any]]:
    return [{"metric": "killed", "value": value, "qualifier": qualifier, "subject": subject}]


def claims(services: Services, **where: Any) -> list[dict[str, Any]]:
    services.runner.run("claims")
    with services.views.snapshot() as cursor:
        return query_claims(cursor, ClaimsFilter(**where))[0]


def test_agreeing_figures_are_not_contested(services: Services) -> None:
    services.app.report_incident(an_incident(), statements=[
        a_statement(figures=killed(600, "at_least")),
        a_statement(source=UA_ARMY, figures=killed(600, "at_least")),
    ])  # fmt: skip
    (group,) = claims(services)
    assert (group["metric"], group["subject"], group["contested"]) == ("killed", "UA", False)
    assert (group["low"], group["high"]) == (600, 600)


def test_disagreeing_figures_are_contested_with_their_range(services: Services) -> None:
    services.app.report_incident(an_incident(), statements=[
        a_statement(figures=killed(600, "at_least")),
        a_statement(source=MAYOR, figures=killed(0), stated_at=T0 + timedelta(days=1)),
    ])  # fmt: skip
    (group,) = claims(services)
    assert group["contested"] and (group["low"], group["high"]) == (0, 600)
    assert [f["source"]["name"] for f in group["figures"]] == [
        "Russian Ministry of Defence",
        "Mayor",
    ]


def test_a_denial_without_a_figure_disputes_the_claim_it_answers(services: Services) -> None:
    written = services.app.report_incident(an_incident(), statements=[a_statement()])
    claim_id = written.statements[0]["id"]
    services.app.record_statement(
        UUID(written.incident_id),
        a_statement(source=UA_ARMY, stance="denial", responds_to=claim_id, figures=[]),
    )
    (group,) = claims(services)
    assert group["contested"]
    assert [d["responds_to"] for d in group["disputed_by"]] == [claim_id]


def test_a_withdrawn_statement_drops_out_now_but_not_as_of_before(services: Services) -> None:
    written = services.app.report_incident(an_incident(), statements=[
        a_statement(figures=killed(600)), a_statement(source=MAYOR, figures=killed(0)),
    ])  # fmt: skip
    withdrawal = services.app.withdraw_statement(
        UUID(written.incident_id), written.statements[1]["id"], "wrong incident"
    )
    (group,) = claims(services)
    assert not group["contested"] and len(group["figures"]) == 1
    before = (withdrawal.recorded_at - timedelta(microseconds=1)).isoformat(timespec="microseconds")
    (then,) = claims(services, as_of=before)
    assert then["contested"] and len(then["figures"]) == 2


def test_a_correction_supersedes_the_sources_earlier_figure(services: Services) -> None:
    written = services.app.report_incident(an_incident(), statements=[
        a_statement(source=MAYOR, figures=killed(2)),
    ])  # fmt: skip
    services.app.record_statement(UUID(written.incident_id), a_statement(
        source=MAYOR, stance="correction", responds_to=written.statements[0]["id"],
        stated_at=T0 + timedelta(days=1), figures=killed(3),
    ))  # fmt: skip
    (group,) = claims(services)
    assert [(f["value"], f["superseded"]) for f in group["figures"]] == [(2, True), (3, False)]
    assert (group["low"], group["high"], group["contested"]) == (3, 3, False)


def test_filters_by_incident_metric_and_subject(services: Services) -> None:
    first = services.app.report_incident(an_incident(), statements=[a_statement(figures=[
        *killed(89, subject="RU"),
        {"metric": "killed_or_wounded", "value": 400, "qualifier": "up_to", "subject": "RU"},
    ])])  # fmt: skip
    services.app.report_incident(an_incident(), statements=[a_statement(figures=killed(5))])
    assert len(claims(services)) == 3
    assert len(claims(services, incident=first.incident_id)) == 2
    assert [g["metric"] for g in claims(services, metric="killed")] == ["killed", "killed"]
    assert len(claims(services, metric="killed", subject="RU")) == 1
    assert claims(services, metric="missiles") == []

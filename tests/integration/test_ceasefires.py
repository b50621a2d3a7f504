"""The ceasefires projection's rules, on real databases: overlap edges, scope, disputes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from tests.factories import T0, a_statement, an_incident
from timeline.application import Written
from timeline.bootstrap import Services
from timeline.domain.values import timestamp
from timeline.projections.ceasefires import CeasefireFilter, query_ceasefires

END = T0 + timedelta(hours=36)
REPORTER = {"name": "Reporter", "side": "independent", "type": "journalist"}
RU_MOD = {"name": "Russian Ministry of Defence", "side": "RU", "type": "military"}


def truce(services: Services, end: datetime | None = END, country: str | None = "UA") -> str:
    written = services.app.report_incident(
        an_incident(kind="ceasefire", title="Truce", actors=["RU", "UA"],
                    occurred={"start": T0, "end": end},
                    location={"name": "Ukraine", "country": country} if country else None),
        statements=[a_statement(stance="announcement", figures=[], source={
            "name": "Kremlin", "side": "RU", "type": "government"})],
    )  # fmt: skip
    return written.incident_id


def fighting(services: Services, at: datetime, country: str = "UA", **overrides: Any) -> Any:
    fields = {
        "kind": "shelling",
        "title": "Shelling",
        "actors": ["RU"],
        "occurred": {"start": at},
        "location": {"name": "Front", "country": country},
    } | overrides
    return services.app.report_incident(
        an_incident(**fields),
        statements=[a_statement(source=REPORTER, figures=[])],
    )  # fmt: skip


def ceasefires(services: Services, **where: Any) -> list[dict[str, Any]]:
    """Ceasefires as the API reads them; "now" (the kept windows and fighting) must equal the
    same ceasefires decided from the history at read time, as of a moment after everything."""
    services.runner.run("ceasefires")
    with services.views.snapshot() as cursor:
        found = [
            json.loads(row["item"])
            for row in query_ceasefires(cursor, CeasefireFilter(**where), None, 1000)
        ]
        if "as_of" not in where:
            decided = CeasefireFilter(**where, as_of="9999-12-31T00:00:00.000000+00:00")
            rows = query_ceasefires(cursor, decided, None, 1000)
            assert found == [json.loads(row["item"]) for row in rows]
    return found


def test_a_ceasefire_with_nothing_inside_held(services: Services) -> None:
    truce(services)
    fighting(services, T0 - timedelta(minutes=1))  # just before
    fighting(services, END + timedelta(minutes=1))  # just after
    (ceasefire,) = ceasefires(services)
    assert ceasefire["status"] == "held" and ceasefire["violations"] == []
    assert [s["name"] for s in ceasefire["declared_by"]] == ["Kremlin"]
    assert ceasefire["parties"] == ["RU", "UA"] and ceasefire["scope"] == "UA"


def test_a_window_is_start_inclusive_and_end_exclusive(services: Services) -> None:
    truce(services)
    fighting(services, END)  # as the truce ends (the Orthodox Christmas truce's 21:00Z)
    assert ceasefires(services)[0]["status"] == "held"
    fighting(services, T0, title="At the start")
    fighting(services, END - timedelta(microseconds=1), title="A moment before the end")
    (ceasefire,) = ceasefires(services)
    assert ceasefire["status"] == "violated"
    assert sorted(v["title"] for v in ceasefire["violations"]) == [
        "A moment before the end", "At the start",
    ]  # fmt: skip
    # asked for the period from the window's end on, it is not there; from just before, it is
    assert ceasefires(services, start=timestamp(END, "start")) == []
    assert ceasefires(services, start=timestamp(END - timedelta(seconds=1), "start"))


def test_an_open_ended_ceasefire_runs_on(services: Services) -> None:
    truce(services, end=None)
    fighting(services, T0 + timedelta(days=300))
    assert ceasefires(services)[0]["status"] == "violated"


def test_fighting_outside_the_named_country_does_not_count(services: Services) -> None:
    truce(services)
    fighting(services, T0 + timedelta(hours=1), country="RU")
    assert ceasefires(services)[0]["status"] == "held"
    truce(services, country=None)  # no scope: everywhere
    statuses = sorted(c["status"] for c in ceasefires(services))
    assert statuses == ["held", "violated"]


def moscow_denies(services: Services, written: Written) -> None:
    """The Russian MoD denies the first report of this fighting."""
    services.app.record_statement(
        UUID(written.incident_id),
        a_statement(
            source=RU_MOD, stance="denial", responds_to=written.statements[0]["id"], figures=[]
        ),
    )


def test_reports_denied_by_the_accused_side_make_it_disputed(services: Services) -> None:
    truce(services)
    written = fighting(services, T0 + timedelta(hours=2))
    moscow_denies(services, written)
    (ceasefire,) = ceasefires(services)
    assert ceasefire["status"] == "disputed"
    assert ceasefire["violations"][0]["denied_by"][0]["side"] == "RU"
    # an independent confirmation that is not denied makes it a violation again
    services.app.record_statement(
        UUID(written.incident_id),
        a_statement(
            source={"name": "OSCE", "side": "independent", "type": "ngo"},
            stance="confirmation",
            responds_to=written.statements[0]["id"],
            figures=[],
        ),
    )
    assert ceasefires(services)[0]["status"] == "violated"


def test_a_withdrawn_report_and_as_of(services: Services) -> None:
    truce(services)
    written = fighting(services, T0 + timedelta(hours=2))
    moscow_denies(services, written)
    withdrawal = services.app.withdraw_statement(
        UUID(written.incident_id), written.statements[0]["id"], "wrong incident"
    )
    (now,) = ceasefires(services)
    assert now["violations"][0]["reported_by"] == []  # the editors' record of the incident stays
    assert now["status"] == "violated"
    before = (withdrawal.recorded_at - timedelta(microseconds=1)).isoformat(timespec="microseconds")
    assert ceasefires(services, as_of=before)[0]["status"] == "disputed"


def test_amending_a_time_moves_it_out_of_the_window(services: Services) -> None:
    truce(services)
    written = fighting(services, T0 + timedelta(hours=2))
    amended = services.app.amend_incident(
        UUID(written.incident_id), {"occurred": {"start": END + timedelta(days=1)}}, "misdated"
    )
    assert ceasefires(services)[0]["status"] == "held"
    before = (amended.recorded_at - timedelta(microseconds=1)).isoformat(timespec="microseconds")
    assert ceasefires(services, as_of=before)[0]["status"] == "violated"


def test_filters_by_party_and_time(services: Services) -> None:
    truce(services)
    assert len(ceasefires(services, party="UA")) == 1
    assert ceasefires(services, party="GB") == []
    late = (END + timedelta(days=1)).isoformat(timespec="microseconds")
    assert ceasefires(services, start=late) == []
    assert len(ceasefires(services, end=T0.isoformat(timespec="microseconds"))) == 1


def test_changing_kinds_and_windows_keeps_the_current_state_in_step(services: Services) -> None:
    # Every step reads through the kept state and checks it against the history (helper).
    truce_id = UUID(truce(services))
    written = fighting(services, END + timedelta(hours=2))  # after the truce
    assert ceasefires(services)[0]["status"] == "held"
    services.app.amend_incident(truce_id, {"occurred": {"start": T0, "end": None}}, "extended")
    assert ceasefires(services)[0]["status"] == "violated"  # the window now reaches it
    fight = UUID(written.incident_id)
    services.app.amend_incident(fight, {"kind": "diplomacy"}, "not fighting after all")
    assert ceasefires(services)[0]["violations"] == []
    services.app.amend_incident(fight, {"kind": "battle"}, "fighting after all")
    assert [v["kind"] for v in ceasefires(services)[0]["violations"]] == ["battle"]
    services.app.amend_incident(truce_id, {"kind": "diplomacy"}, "talks, not a truce")
    assert ceasefires(services) == []
    services.app.amend_incident(truce_id, {"kind": "ceasefire"}, "a truce after all")
    assert ceasefires(services)[0]["status"] == "violated"


def test_withdrawing_the_accused_sides_denial_undoes_the_dispute(services: Services) -> None:
    truce(services)
    written = fighting(services, T0 + timedelta(hours=2))
    moscow_denies(services, written)
    assert ceasefires(services)[0]["status"] == "disputed"
    incident = services.app.get_incident(UUID(written.incident_id))
    denial = next(s for s in incident["statements"] if s["stance"] == "denial")
    services.app.withdraw_statement(UUID(written.incident_id), denial["id"], "misattributed")
    assert ceasefires(services)[0]["status"] == "violated"


@pytest.mark.parametrize("as_of", [None, "9999-12-31T00:00:00.000000+00:00"])
def test_ceasefires_page_by_window_start(services: Services, as_of: str | None) -> None:
    # Now, and as of a time (decided from the history a page at a time): the same pages.
    ids = [truce(services) for _ in range(3)]
    later = truce(services, end=END + timedelta(days=9))
    fighting(services, END + timedelta(days=8))  # only inside the last window
    services.runner.run("ceasefires")
    with services.views.snapshot() as cursor:
        first = query_ceasefires(cursor, CeasefireFilter(as_of=as_of), None, 2)
        key = (first[-1]["start"], first[-1]["id"])
        rest = query_ceasefires(cursor, CeasefireFilter(as_of=as_of), key, 2)
    assert sorted(c["id"] for c in first + rest) == sorted([*ids, later])
    assert len(rest) == 2
    statuses = {c["id"]: c["status"] for c in map(json.loads, (r["item"] for r in first + rest))}
    assert statuses == {**dict.fromkeys(ids, "held"), later: "violated"}


@pytest.mark.parametrize("kind", ["explosion", "violence_against_civilians"])
def test_explosions_and_violence_against_civilians_violate_a_truce(
    services: Services, kind: str
) -> None:
    truce(services)
    fighting(services, T0 + timedelta(hours=2), kind=kind)
    (ceasefire,) = ceasefires(services)
    assert (ceasefire["status"], ceasefire["violations"][0]["kind"]) == ("violated", kind)


@pytest.mark.parametrize("kind", ["protest", "riot"])
def test_protests_and_riots_do_not(services: Services, kind: str) -> None:
    truce(services)
    fighting(services, T0 + timedelta(hours=2), kind=kind)
    assert ceasefires(services)[0]["status"] == "held"


def test_the_accused_are_the_sides_of_the_actors(services: Services) -> None:
    truce(services)
    wagner = {"name": "Wagner Group", "side": "RU", "type": "political_militia"}
    written = fighting(services, T0 + timedelta(hours=2), actors=[wagner, {"name": "Civilians"}])
    moscow_denies(services, written)  # a denial from RU, the side of an actor: disputed
    (ceasefire,) = ceasefires(services)
    assert ceasefire["violations"][0]["accused"] == ["RU"]
    assert (ceasefire["status"], ceasefire["parties"]) == ("disputed", ["RU", "UA"])

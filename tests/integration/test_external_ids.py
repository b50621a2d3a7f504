"""External ids: a dataset's id names one incident at a time, enforced by the event store."""

from __future__ import annotations

import threading
from uuid import UUID

import pytest

from tests.factories import an_incident
from timeline.bootstrap import Services, build
from timeline.domain import Conflict, InvalidValue

GED = {"ucdp-ged": "256002"}


def test_a_report_claims_its_ids_and_they_find_it(services: Services) -> None:
    written = services.app.report_incident(an_incident(external_ids={**GED, "acled": "UKR1"}))
    app = services.app
    assert app.incident_by_external_id("ucdp-ged", "256002") == written.incident_id
    assert app.incident_by_external_id("acled", "UKR1") == written.incident_id
    assert app.incident_by_external_id("acled", "UKR2") is None
    assert app.get_incident(UUID(written.incident_id))["external_ids"] == {**GED, "acled": "UKR1"}


def test_a_second_incident_cannot_take_a_held_id(services: Services) -> None:
    first = services.app.report_incident(an_incident(external_ids=GED))
    head = services.app.head()
    with pytest.raises(Conflict, match=first.incident_id) as caught:
        services.app.report_incident(an_incident(external_ids=GED))
    assert caught.value.field == "external_ids.ucdp-ged"
    assert services.app.head() == head  # nothing written


def test_amending_an_id_away_releases_it_for_another_incident(services: Services) -> None:
    first = services.app.report_incident(an_incident(external_ids=GED))
    services.app.amend_incident(
        UUID(first.incident_id), {"external_ids": {"ucdp-ged": "256003"}}, "id corrected"
    )
    second = services.app.report_incident(an_incident(external_ids=GED))
    app = services.app
    assert app.incident_by_external_id("ucdp-ged", "256002") == second.incident_id
    assert app.incident_by_external_id("ucdp-ged", "256003") == first.incident_id


def test_a_batch_naming_one_id_twice_upserts_one_incident(services: Services) -> None:
    first, again = services.app.apply_batch(
        [an_incident(external_ids=GED), an_incident(external_ids=GED, title="Renamed")]
    )
    assert (first.incident_id, first.outcome) == (again.incident_id, "reported")
    view = services.app.get_incident(UUID(first.incident_id))
    assert view["title"] == "Renamed" and view["version"] == 2


def test_an_item_whose_ids_name_two_incidents_is_refused(services: Services) -> None:
    services.app.report_incident(an_incident(external_ids=GED))
    services.app.report_incident(an_incident(external_ids={"acled": "CAF1"}))
    head = services.app.head()
    with pytest.raises(Conflict) as caught:
        services.app.apply_batch([an_incident(external_ids={**GED, "acled": "CAF1"})])
    assert caught.value.field == "items.0.external_ids"
    assert services.app.head() == head


def test_bad_ids_are_refused_naming_the_field(services: Services) -> None:
    for bad, field in (
        ({"UCDP GED": "1"}, "external_ids.UCDP GED"),
        ({"acled": ""}, "external_ids.acled"),
        ({f"ns{n}": "1" for n in range(17)}, "external_ids"),
    ):
        with pytest.raises(InvalidValue) as caught:
            services.app.report_incident(an_incident(external_ids=bad))
        assert caught.value.field == field


def test_racing_writers_claim_an_id_once(services: Services) -> None:
    # Two processes' worth of writers (separate applications on the same store) report an
    # incident with the same new id at once: the event store lets exactly one claim through.
    others = [build(services.settings) for _ in range(4)]
    outcomes: list[str] = []
    start = threading.Barrier(len(others))

    def report(built: Services) -> None:
        start.wait()
        try:
            built.app.report_incident(an_incident(external_ids={"acled": "RACE1"}))
            outcomes.append("written")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=report, args=(b,)) for b in others]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        for built in others:
            built.close()
    assert sorted(outcomes) == ["conflict"] * 3 + ["written"]
    assert services.app.incident_by_external_id("acled", "RACE1") is not None

"""Retirement and the stated clock across the read models: a retired incident leaves the
timeline, claims, ceasefires and sources; it stays readable by id and in its history; as of a
time before its retirement (on either clock) it is still everywhere; restored, it comes back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from flask.testing import FlaskClient

from tests.factories import T0, a_statement, an_incident
from tests.integration.test_ceasefires import ceasefires, fighting, truce
from timeline.bootstrap import Services
from timeline.domain import Conflict, InvalidValue
from timeline.projections.claims import ClaimsFilter
from timeline.projections.sources import SourcesFilter
from timeline.read_models import TimelineFilter

RU_MOD = "Russian Ministry of Defence"


def everywhere(services: Services, incident_id: str, **when: Any) -> dict[str, bool]:
    """Where the incident shows, in each read model (now, or as of ``when``)."""
    services.runner.run_all()
    reads = services.reads
    timeline = reads.timeline(TimelineFilter(**when), None, 1000).items
    claims = reads.claims(ClaimsFilter(**when), None, 1000).items
    sources = reads.sources(SourcesFilter(**when), None, 1000).items
    strike = [
        v["id"] for c in ceasefires(services, **when) for v in c["violations"]
    ]  # fmt: skip
    return {
        "timeline": any(f'"incident_id":"{incident_id}"' in r["item"] or
                        f'"id":"{incident_id}"' in r["item"] for r in timeline),
        "claims": any(g["incident"]["id"] == incident_id for g in claims),
        "sources": any(s["name"] == RU_MOD for s in sources),
        "ceasefires": incident_id in strike,
    }  # fmt: skip


def test_a_retired_incident_leaves_every_read_model_and_comes_back_restored(
    services: Services,
) -> None:
    truce(services)
    strike = fighting(services, T0 + timedelta(hours=2)).incident_id
    services.app.record_statement(UUID(strike), a_statement())  # RU MoD claims 600 killed
    assert everywhere(services, strike) == dict.fromkeys(everywhere(services, strike), True)
    services.runner.run_all()
    before = datetime.now(UTC).isoformat(timespec="microseconds")

    retired = services.app.retire_incident(UUID(strike), "recorded_in_error", note="not a strike")
    assert retired.outcome == "retired"
    assert everywhere(services, strike) == dict.fromkeys(everywhere(services, strike), False)
    # as known before the retirement, on the recorded clock: still everywhere
    assert all(everywhere(services, strike, as_of=before).values())
    view = services.app.get_incident(UUID(strike))
    assert view["retired"]["reason"] == "recorded_in_error"
    assert view["retired"]["note"] == "not a strike"

    again = services.app.retire_incident(UUID(strike), "recorded_in_error")
    assert (again.outcome, again.position) == ("unchanged", None)
    restored = services.app.restore_incident(UUID(strike), "it was a strike after all")
    assert restored.outcome == "restored"
    assert all(everywhere(services, strike).values())
    assert services.app.get_incident(UUID(strike))["retired"] is None


def test_a_retirement_dated_on_the_stated_clock(services: Services) -> None:
    truce(services)
    strike = fighting(services, T0 + timedelta(hours=2)).incident_id
    services.app.amend_incident(UUID(strike), {"title": "Strike"}, "as published",
                                stated_at=T0 + timedelta(hours=3))  # fmt: skip
    services.app.record_statement(UUID(strike), a_statement())
    said = (T0 + timedelta(hours=10)).isoformat(timespec="microseconds")
    removed = T0 + timedelta(days=2)
    services.app.retire_incident(UUID(strike), "removed_by_source", stated_at=removed)
    on_stated = {"clock": "stated"}
    assert all(everywhere(services, strike, as_of=said, **on_stated).values())
    after = (removed + timedelta(seconds=1)).isoformat(timespec="microseconds")
    assert not any(everywhere(services, strike, as_of=after, **on_stated).values())
    earlier = (T0 - timedelta(days=1)).isoformat(timespec="microseconds")
    assert not any(everywhere(services, strike, as_of=earlier, **on_stated).values())


def test_retirement_rules(services: Services) -> None:
    one = services.app.report_incident(an_incident()).incident_id
    for kwargs, field in (
        ({"reason": "duplicate"}, "duplicate_of"),
        ({"reason": "duplicate", "duplicate_of": one}, "duplicate_of"),
        ({"reason": "duplicate", "duplicate_of": "8d6f4bd2-7f2c-4a5e-9d55-4f5c3a4b2e10"},
         "duplicate_of"),
        ({"reason": "removed_by_source", "duplicate_of": one}, "duplicate_of"),
        ({"reason": "tired"}, "reason"),
    ):  # fmt: skip
        with pytest.raises(InvalidValue) as caught:
            services.app.retire_incident(UUID(one), **kwargs)
        assert caught.value.field == field
    other = services.app.report_incident(an_incident()).incident_id
    written = services.app.retire_incident(UUID(other), "duplicate", duplicate_of=one)
    assert services.app.get_incident(UUID(other))["retired"]["duplicate_of"] == one
    assert written.position == services.app.head()


def test_stated_at_is_never_later_than_now(services: Services) -> None:
    written = services.app.report_incident(an_incident())
    future = datetime.now(UTC) + timedelta(hours=1)
    with pytest.raises(InvalidValue) as caught:
        services.app.amend_incident(UUID(written.incident_id), {"title": "x"}, "y", None, future)
    assert caught.value.field == "stated_at"
    with pytest.raises(InvalidValue):
        services.app.report_incident(an_incident(), stated_at=future)
    skewed = datetime.now(UTC) + timedelta(minutes=2)  # within the clock-skew allowance
    services.app.amend_incident(UUID(written.incident_id), {"title": "x"}, "y", None, skewed)


def test_a_batch_upserts_exactly_the_events_it_must_all_or_nothing(services: Services) -> None:
    app = services.app
    first = [an_incident(title=f"Row {n}", external_ids={"acled": f"R{n}"}) for n in range(750)]
    app.apply_batch(first)
    head = app.head()
    assert head == 750 * 2  # each report, and the claim of its external id
    mixed = [
        *(an_incident(title=f"Row {n}", external_ids={"acled": f"R{n}"}) for n in range(250)),
        *(an_incident(title=f"Row {n} (revised)", external_ids={"acled": f"R{n}"})
          for n in range(250, 500)),
        *(an_incident(title=f"New {n}", external_ids={"acled": f"N{n}"}) for n in range(500)),
    ]  # fmt: skip
    assert len(mixed) == 1000
    bad = [*mixed, an_incident(kind="picnic", external_ids={"acled": "BAD"})]
    with pytest.raises(InvalidValue) as caught:
        app.apply_batch(bad)
    assert caught.value.field == "items.1000.kind"
    assert app.head() == head  # nothing of it written
    outcomes = [w.outcome for w in app.apply_batch(mixed)]
    assert outcomes.count("unchanged") == 250
    assert outcomes.count("amended") == 250
    assert outcomes.count("reported") == 500
    assert app.head() == head + 250 + 500 * 2  # one amendment each; a report and a claim each
    assert [w.outcome for w in app.apply_batch(mixed)] == ["unchanged"] * 1000
    assert app.head() == head + 250 + 500 * 2


def test_a_batch_upserts_statements_by_id(services: Services) -> None:
    app = services.app
    statement = {**a_statement(), "id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427"}
    item = an_incident(external_ids={"acled": "S1"}, statements=[statement])
    (written,) = app.apply_batch([item])
    head = app.head()
    (again,) = app.apply_batch([item])
    assert (again.incident_id, again.statements, app.head()) == (written.incident_id, [], head)
    later = {**statement, "stated_at": statement["stated_at"] + timedelta(days=30)}
    app.apply_batch([an_incident(external_ids={"acled": "S1"}, statements=[later])])
    assert app.head() == head  # the same claim sent again later: the same statement
    changed = {**statement, "text": "Says 500."}
    with pytest.raises(Conflict) as caught:
        app.apply_batch([an_incident(external_ids={"acled": "S1"}, statements=[changed])])
    assert caught.value.field == "items.0.statements.0.id"
    assert app.head() == head


def test_the_api_retires_restores_and_patches_without_change(
    client: FlaskClient, writer: dict[str, str], services: Services
) -> None:
    incident_id = services.app.report_incident(an_incident()).incident_id
    url = f"/api/v1/incidents/{incident_id}"
    same = client.patch(url, json={"title": an_incident()["title"], "reason": "r"}, headers=writer)
    assert same.status_code == 200
    assert (same.json["outcome"], same.json["position"]) == ("unchanged", None)
    bad = client.post(f"{url}/retirement", json={"reason": "duplicate"}, headers=writer)
    assert bad.status_code == 422 and "duplicate_of" in str(bad.json)
    gone = client.post(f"{url}/retirement", json={"reason": "removed_by_source"}, headers=writer)
    assert gone.status_code == 200 and gone.json["outcome"] == "retired"
    shown = client.get(url).json
    assert shown["retired"]["reason"] == "removed_by_source"
    assert shown["retired"]["retired_at"].endswith("+00:00")
    back = client.post(f"{url}/restoration", json={"reason": "back"}, headers=writer)
    assert back.json["outcome"] == "restored"
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    late = client.patch(url, json={"title": "T", "reason": "r", "stated_at": future},
                        headers=writer)  # fmt: skip
    assert late.status_code == 422 and "stated_at" in str(late.json)

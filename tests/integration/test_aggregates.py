"""/aggregates against a count made by hand from the incidents as the API lists them, after
amendments (kind, date, place), a retirement and a withdrawal: the projection keeps its counts
by adding and taking back contributions, the oracle counts afresh."""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from uuid import UUID

import pytest
from flask.testing import FlaskClient

from tests.datasets import FIXTURES
from tests.factories import an_incident
from timeline.bootstrap import Services
from timeline.bulk import BulkWriter, Options
from timeline.importing.loader import FORMATS
from timeline.projections.aggregates import bucket_of as bucket
from timeline.read_models import TimelineFilter


def load(services: Services) -> None:
    for data_format, path in (("ucdp-ged", "ucdp_ged/ged.csv"), ("acled", "acled/current.csv")):
        items = [p.item for p in FORMATS[data_format](FIXTURES / path) if p.item is not None]
        # A dataset, as published; the rows the rules refuse are left out, as imports do.
        BulkWriter(services.app).write(items, Options(as_published=True), "skip")
    app = services.app

    def named(namespace: str, value: str) -> UUID:
        return UUID(str(app.incident_by_external_id(namespace, value)))

    app.amend_incident(named("acled", "CAF2001"), {"kind": "battle"}, "reclassified")
    app.amend_incident(named("acled", "CAF2002"), {"occurred": {"start": "2021-12-31"}}, "date")
    app.amend_incident(named("ucdp-ged", "256003"), {"location": {"name": "Bria",
                       "country": "Chad", "admin1": "Ouaddai"}}, "moved")  # fmt: skip
    app.retire_incident(named("ucdp-ged", "256001"), "recorded_in_error")
    # a row a monitor also names: it counts for both datasets
    app.amend_incident(named("acled", "CAF2003"), {"external_ids": {"acled": "CAF2003",
                       "monitor": "M-1"}}, "the monitor's too")  # fmt: skip
    app.report_incident(an_incident())  # an analyst's own: the dataset grouping's null group
    incident = app.get_incident(named("ucdp-ged", "256005"))
    app.withdraw_statement(named("ucdp-ged", "256005"), incident["statements"][0]["id"], "wrong")
    services.runner.run_all()


def by_hand(
    services: Services,
    measure: str,
    group: str | None,
    interval: str,
    scope: TimelineFilter | None = None,
) -> list[Any]:
    counted: dict[tuple[str, str | None], list[float]] = defaultdict(lambda: [0, 0, 0, 0])
    export = services.reads.export_incidents(scope or TimelineFilter())
    for incident in export:
        place = incident["location"] or {}
        values = {
            "kind": [incident["kind"]],
            "country": [place.get("country")],  # (None: the null group)
            "admin1": [place.get("admin1")],
            "actor": sorted({a["name"] for a in incident["actors"]}
                            | {a["side"] for a in incident["actors"] if a.get("side")})
            or [None],
            "dataset": sorted(incident["external_ids"]) or [None],
        }  # fmt: skip
        day = incident["occurred"]["start"][:10]
        if measure == "incidents":
            for value in values[group] if group else [None]:
                counted[(bucket(day, interval), value)][0] += 1
            continue
        for statement in incident["statements"]:
            side = statement["source"]["side"]
            if measure == "statements":
                groups = (
                    [side or None]
                    if group == "source_side"
                    else (values[group] if group else [None])
                )
                for value in groups:
                    counted[(bucket(statement["stated_at"][:10], interval), value)][0] += 1
                continue
            mine = [f for f in statement["figures"] if f"figure:{f['metric']}" == measure]
            whole = [f for f in mine if f["subject"] is None]
            for figure in whole or mine:  # a total beside its parts, else every figure
                low = figure["low"] if figure["low"] is not None else figure["value"]
                high = figure["high"] if figure["high"] is not None else figure["value"]
                groups = (
                    [side or None]
                    if group == "claimant_side"
                    else (values[group] if group else [None])
                )
                for value in groups:
                    kept = counted[(bucket(day, interval), value)]
                    for n, amount in enumerate((1, figure["value"], low, high)):
                        kept[n] += amount
    return [
        {"start": start, "group": value, "count": int(t[0]),
         **({"best": t[1], "low": t[2], "high": t[3]} if measure.startswith("figure:") else {})}
        for (start, value), t in sorted(counted.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("measure", "groups"),
    [
        ("incidents", [None, "kind", "country", "admin1", "actor", "dataset"]),
        ("statements", [None, "kind", "source_side", "actor", "dataset"]),
        ("figure:killed", [None, "claimant_side", "country", "kind"]),
    ],
)
def test_the_counts_match_a_count_by_hand(
    services: Services, client: FlaskClient, measure: str, groups: list[str | None]
) -> None:
    load(services)
    for group in groups:
        for interval in ("day", "week", "month"):
            query = {
                "measure": measure,
                "interval": interval,
                **({"group_by": group} if group else {}),
            }
            answer = client.get("/api/v1/aggregates", query_string=query)
            assert answer.status_code == 200, answer.json
            assert answer.json["items"] == by_hand(services, measure, group, interval), query


def test_arguments_are_checked(client: FlaskClient) -> None:
    for query, field in (
        ({"measure": "deaths"}, "measure"),
        ({"group_by": "source_side"}, "group_by"),
        ({"measure": "statements", "group_by": "claimant_side"}, "group_by"),
        ({"interval": "year"}, "interval"),
        ({"from": "2022-02-01", "to": "2022-01-01"}, "from"),
    ):
        answer = client.get("/api/v1/aggregates", query_string=query)
        assert answer.status_code == 422 and field in str(answer.json["errors"]), query


@pytest.mark.parametrize(
    ("query", "scope"),
    [
        ({"kind": "battle"}, TimelineFilter(kind=("battle",))),
        ({"country": "Chad"}, TimelineFilter(country="Chad")),
        ({"actor": "UPC", "namespace": "ucdp-ged"},
         TimelineFilter(actor="UPC", namespace="ucdp-ged")),
        ({"retired": "true"}, TimelineFilter(retired=True)),
        ({"metric": "killed"}, TimelineFilter(metric="killed")),
        ({"as_of": "2009-02-10T00:00:00Z", "clock": "stated"},
         TimelineFilter(as_of="2009-02-10T00:00:00.000000+00:00", clock="stated")),
    ],
)  # fmt: skip
def test_filters_and_times_are_counted_from_the_matching_incidents(
    services: Services, client: FlaskClient, query: dict[str, str], scope: TimelineFilter
) -> None:
    load(services)
    for measure, group in (("incidents", "kind"), ("statements", "source_side"),
                           ("figure:killed", None)):  # fmt: skip
        asked = {"measure": measure, "interval": "week", **query}
        if group:
            asked["group_by"] = group
        answer = client.get("/api/v1/aggregates", query_string=asked)
        assert answer.status_code == 200, answer.json
        expected = by_hand(services, measure, group, "week", scope)
        assert answer.json["items"] == expected, asked
        assert expected, f"{asked}: compared with something non-empty"


@pytest.mark.parametrize("query", [{}, {"as_of": "2030-01-01T00:00:00Z", "clock": "stated"},
                                   {"as_of": "2030-01-01T00:00:00Z"}])  # fmt: skip
def test_groups_add_up_to_the_ungrouped_count(
    services: Services, client: FlaskClient, query: dict[str, str]
) -> None:
    """Incidents without a value for the grouping are the null group, not left out: on the
    read model's path and the narrowed one (as of a time), on both clocks."""
    load(services)
    unplaced = an_incident(location=None, occurred={"start": "2009-02-03"}, actors=[])
    services.app.report_incident(unplaced)  # no country, no admin1, no actor
    services.runner.run_all()
    asked = {"interval": "month", **query}
    whole = client.get("/api/v1/aggregates", query_string=asked).json["items"]
    for group in ("kind", "country", "admin1"):
        grouped = client.get("/api/v1/aggregates", query_string={**asked, "group_by": group})
        assert grouped.status_code == 200, grouped.json
        summed: dict[str, int] = defaultdict(int)
        for item in grouped.json["items"]:
            summed[item["start"]] += item["count"]
        assert summed == {item["start"]: item["count"] for item in whole}, group
        if group != "kind":  # (every incident has a kind)
            assert any(item["group"] is None for item in grouped.json["items"]), group

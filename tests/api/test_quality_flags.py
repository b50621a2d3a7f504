"""A source recorded as published keeps what it said, flagged where it broke its own rules;
an analyst's own write stays strict. Each rule: refused on the strict path, flagged on the
as-published one, and found by the filters and in the exports."""

from __future__ import annotations

import csv
import io
import json
from typing import Any
from uuid import UUID

import pytest
from flask.testing import FlaskClient

from tests.factories import a_statement, an_incident, as_json
from timeline.bootstrap import Services

GED_LIKE = {"metric": "killed", "value": 12, "low": 14, "high": 20, "qualifier": "about"}
# Each rule the source may break: the incident's fields and statements that break it, and the
# field both paths name (the strict one refusing, the as-published one flagging).
BREACHES = {
    "best_outside_range": (
        {}, [{"figures": [GED_LIKE]}], "figures.0.low",
    ),
    "low_above_high": (
        {}, [{"figures": [{**GED_LIKE, "low": 30}]}], "figures.0.low",
    ),
    "end_before_start": (
        {"occurred": {"start": "2022-03-05", "end": "2022-03-04"}}, [], "occurred.end",
    ),
    "unnamed_place": (
        {"location": {"admin1": "Donetsk Oblast", "country": "UA", "lat": 48.0, "lon": 37.8}},
        [], "location.name",
    ),
    "stated_in_future": (
        {}, [{"stated_at": "2999-01-01T00:00:00Z"}], "stated_at",
    ),
}  # fmt: skip


def paths(errors: Any, prefix: str = "") -> list[str]:
    """The dotted paths of a 422's nested errors."""
    if not isinstance(errors, dict):
        return [prefix.strip(".")]
    return [p for key, value in errors.items() for p in paths(value, f"{prefix}.{key}")]


def item(fields: dict[str, Any], statements: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    """A batch item: a plausible incident with these fields and statements."""
    said = [as_json(a_statement(**s)) for s in statements]
    return {**as_json(an_incident(**fields)), "statements": said, **more}


@pytest.mark.parametrize("code", list(BREACHES))
def test_a_breach_is_refused_strictly_and_flagged_as_published(
    client: FlaskClient, writer: dict[str, str], code: str
) -> None:
    fields, statements, flagged_field = BREACHES[code]
    body = item(fields, statements, external_ids={"monitor": code})
    strict = client.post("/api/v1/incidents", json=body, headers=writer)
    assert strict.status_code == 422, strict.json
    assert any(p.endswith(flagged_field) for p in paths(strict.json["errors"])), strict.json
    batch = client.post("/api/v1/batch", json={"items": [body]}, headers=writer)
    assert batch.status_code == 422  # /batch is strict too unless told otherwise
    published = {"items": [body], "as_published": True}
    written = client.post("/api/v1/batch", json=published, headers=writer)
    assert written.status_code == 201, written.json
    shown = client.get(f"/api/v1/incidents/{written.json['items'][0]['id']}").json
    found = shown["flags"] + [f for s in shown["statements"] for f in s["flags"]]
    assert [(f["code"], f["field"]) for f in found] == [(code, flagged_field)]
    assert all(f["message"] for f in found)


def test_what_the_source_published_is_stored_as_published(
    client: FlaskClient, writer: dict[str, str]
) -> None:
    body = item({"occurred": {"start": "2022-03-05", "end": "2022-03-04"},
                 "location": {"admin2": "Bakhmutskyi", "admin1": "Donetsk Oblast",
                              "country": "UA"}},
                [{"figures": [GED_LIKE]}])  # fmt: skip
    written = client.post("/api/v1/batch", json={"items": [body], "as_published": True},
                          headers=writer)  # fmt: skip
    shown = client.get(f"/api/v1/incidents/{written.json['items'][0]['id']}").json
    assert shown["occurred"]["end"] <= shown["occurred"]["start"]  # 4 March is over by the 5th
    assert shown["location"]["name"] == "Bakhmutskyi"  # the finest level the row gives
    (figure,) = shown["statements"][0]["figures"]
    assert (figure["low"], figure["value"], figure["high"]) == (14, 12, 20)


def test_an_amendment_replaces_only_its_own_fields_flags(
    client: FlaskClient, writer: dict[str, str], services: Services
) -> None:
    body = item({"occurred": {"start": "2022-03-05", "end": "2022-03-04"},
                 "location": {"admin1": "Donetsk Oblast", "country": "UA"}}, [])  # fmt: skip
    written = client.post("/api/v1/batch", json={"items": [body], "as_published": True},
                          headers=writer)  # fmt: skip
    incident_id = written.json["items"][0]["id"]
    url = f"/api/v1/incidents/{incident_id}"
    fixed = {"occurred": {"start": "2022-03-05", "end": "2022-03-06"}, "reason": "Checked."}
    assert client.patch(url, json=fixed, headers=writer).status_code == 200
    assert [f["code"] for f in client.get(url).json["flags"]] == ["unnamed_place"]
    services.runner.run_all()
    history = client.get(f"{url}/history").json["items"]
    assert len(history) == 2
    first = client.get(f"{url}?as_of={history[0]['recorded_at'].replace('+', '%2B')}").json
    assert [f["code"] for f in first["flags"]] == ["end_before_start", "unnamed_place"]


def test_flags_are_filters_and_export_columns(
    client: FlaskClient, writer: dict[str, str], services: Services
) -> None:
    rows = [
        item({}, [{"figures": [GED_LIKE]}], external_ids={"ged": "1"}),
        item({"occurred": {"start": "2022-03-05", "end": "2022-03-04"}}, [],
             external_ids={"ged": "2"}),
        item({}, [{}], external_ids={"ged": "3"}),
    ]  # fmt: skip
    written = client.post("/api/v1/batch", json={"items": rows, "as_published": True},
                          headers=writer)  # fmt: skip
    ids = [w["id"] for w in written.json["items"]]
    services.runner.run_all()

    def listed(query: str) -> list[str]:
        answer = client.get(f"/api/v1/incidents?{query}")
        assert answer.status_code == 200, answer.json
        return sorted(i["id"] for i in answer.json["items"])

    assert listed("flagged=true") == sorted(ids[:2])
    assert listed("flagged=false") == [ids[2]]
    assert listed("flag=best_outside_range") == [ids[0]]
    assert listed("flag=end_before_start") == [ids[1]]
    assert listed("flag=null_island") == []
    assert client.get("/api/v1/incidents?flag=nonsense").status_code == 422
    timeline = client.get("/api/v1/timeline?flagged=true&type=incident").json["items"]
    assert sorted(i["incident"]["id"] for i in timeline) == sorted(ids[:2])
    counted = client.get("/api/v1/aggregates?measure=incidents&interval=month&flagged=true")
    assert counted.status_code == 200, counted.json
    assert sum(b["count"] for b in counted.json["items"]) == 2

    exported = client.get("/api/v1/incidents?format=csv").data.decode()
    by_id = {r["id"]: r for r in csv.DictReader(io.StringIO(exported))}
    assert [by_id[i]["flags"] for i in ids] == ["best_outside_range", "end_before_start", ""]
    features = client.get("/api/v1/incidents?format=geojson").json["features"]
    flags = {f["id"]: f["properties"]["flags"] for f in features}
    (statement_flag,) = flags[ids[0]]
    assert statement_flag["code"] == "best_outside_range"
    assert statement_flag["field"].startswith("statements.") and flags[ids[2]] == []


def test_statement_filters_read_the_statements_live_at_as_of(
    client: FlaskClient, writer: dict[str, str], services: Services
) -> None:
    """metric= and flag= look at an incident's statements as they stood at as_of (recorded
    by then, not withdrawn by then), not at today's."""
    first = client.post("/api/v1/batch", json={"items": [item({}, [], external_ids={"ged": "9"})],
                        "as_published": True}, headers=writer).json  # fmt: skip
    incident = first["items"][0]["id"]
    later = client.post("/api/v1/batch", json={"items": [item({}, [{"figures": [GED_LIKE]}],
                        external_ids={"ged": "9"})], "as_published": True},
                        headers=writer).json  # fmt: skip
    said = later["items"][0]["statements"][0]
    services.app.withdraw_statement(UUID(incident), said, "mis-recorded")
    services.runner.run_all()
    history = client.get(f"/api/v1/incidents/{incident}/history").json["items"]
    before, during = history[0]["recorded_at"], history[1]["recorded_at"]

    def listed(query: str, as_of: str | None = None) -> list[str]:
        name, value = query.split("=")
        answer = client.get("/api/v1/incidents", query_string={name: value, "as_of": as_of})
        assert answer.status_code == 200, answer.json
        return [i["id"] for i in answer.json["items"]]

    for query in ("metric=killed", "flag=best_outside_range", "flagged=true"):
        assert listed(query, before) == [], query  # not yet said
        assert listed(query, during) == [incident], query  # said, not yet withdrawn
        assert listed(query) == [], query  # withdrawn since
    assert listed("flagged=false", during) == []


def test_a_writer_cannot_set_flags_without_recording_a_source(
    client: FlaskClient, writer: dict[str, str]
) -> None:
    flag = {"code": "unmapped_category", "field": "kind", "message": "x"}
    strict = client.post("/api/v1/batch", json={"items": [item({}, [], flags=[flag])]},
                         headers=writer)  # fmt: skip
    assert strict.status_code == 422 and "flags" in json.dumps(strict.json)
    bad = client.post("/api/v1/batch", headers=writer, json={
        "items": [item({}, [], flags=[{"code": "made_up"}])], "as_published": True})  # fmt: skip
    assert bad.status_code == 422 and "code" in json.dumps(bad.json)


@pytest.mark.parametrize(
    ("lat", "lon", "code"),
    [(0, 0, "null_island"), (48.86, 2.35, "outside_country"), (48.72, 37.56, None)],
)
def test_suspect_coordinates_are_flagged_on_every_write(
    client: FlaskClient, writer: dict[str, str], lat: float, lon: float, code: str | None
) -> None:
    place = {"name": "Kramatorsk", "country": "UA", "lat": lat, "lon": lon}
    written = client.post("/api/v1/incidents", json=as_json(an_incident(location=place)),
                          headers=writer)  # fmt: skip
    assert written.status_code == 201, written.json  # an analyst may know better: not refused
    shown = client.get(f"/api/v1/incidents/{written.json['id']}").json
    assert [(f["code"], f["field"]) for f in shown["flags"]] == (
        [(code, "location.lat")] if code else []
    )

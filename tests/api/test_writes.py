"""Write endpoints through the Flask test client: shapes, auth, and every kind of bad input."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import READ_KEY
from tests.factories import a_statement, an_incident, as_json
from timeline.bootstrap import Services


def incident_json(**overrides: Any) -> dict[str, Any]:
    return as_json(an_incident(**overrides))  # type: ignore[no-any-return]


def statement_json(**overrides: Any) -> dict[str, Any]:
    return as_json(a_statement(**overrides))  # type: ignore[no-any-return]


def report(client: FlaskClient, writer: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/incidents", json={**incident_json(), **body}, headers=writer)
    assert response.status_code == 201, response.json
    return response.json  # type: ignore[return-value]


def test_report_returns_id_version_position(client: FlaskClient, writer: dict[str, str]) -> None:
    response = client.post(
        "/api/v1/incidents",
        json={**incident_json(), "statements": [statement_json()]},
        headers=writer,
    )
    assert response.status_code == 201
    body = response.json
    assert body["version"] == 2 and body["position"] == 2
    assert response.headers["Location"] == f"/api/v1/incidents/{body['id']}"
    assert body["statements"][0]["figures"][0]["value"] == 600


def test_record_statement_and_withdraw(client: FlaskClient, writer: dict[str, str]) -> None:
    incident = report(client, writer)
    url = f"/api/v1/incidents/{incident['id']}/statements"
    recorded = client.post(url, json=statement_json(), headers=writer)
    assert recorded.status_code == 201
    assert set(recorded.json) >= {"id", "incident_id", "position", "recorded_at"}
    sid = recorded.json["id"]
    withdrawal = f"{url}/{sid}/withdrawal"
    # a state change of something that exists, like retirement and amendment: 200, not 201
    withdrawn = client.post(withdrawal, json={"reason": "wrong incident"}, headers=writer)
    assert withdrawn.status_code == 200
    retired = client.post(f"/api/v1/incidents/{incident['id']}/retirement",
                          json={"reason": "recorded_in_error"}, headers=writer)  # fmt: skip
    assert retired.status_code == withdrawn.status_code
    again = client.post(withdrawal, json={"reason": "again"}, headers=writer)
    assert again.status_code == 409
    assert "already withdrawn" in again.json["message"]
    shown = client.get(f"/api/v1/incidents/{incident['id']}").json
    assert shown["statements"][0]["withdrawn"]["reason"] == "wrong incident"


def test_a_retried_statement_with_its_id_is_not_recorded_twice(
    client: FlaskClient, writer: dict[str, str]
) -> None:
    incident = report(client, writer)
    url = f"/api/v1/incidents/{incident['id']}/statements"
    body = {**statement_json(), "id": "6f1c7a52-1f0e-4d3b-9a55-3a8f7f0d9a11"}
    assert client.post(url, json=body, headers=writer).status_code == 201
    assert client.post(url, json=body, headers=writer).status_code == 409
    assert len(client.get(f"/api/v1/incidents/{incident['id']}").json["statements"]) == 1


def test_amend_needs_a_reason_and_shows_changes(
    client: FlaskClient, writer: dict[str, str]
) -> None:
    incident = report(client, writer)
    url = f"/api/v1/incidents/{incident['id']}"
    missing = client.patch(url, json={"title": "New"}, headers=writer)
    assert missing.status_code == 422
    assert "reason" in missing.json["errors"]["json"]
    amended = client.patch(url, json={"title": "New", "reason": "clearer"}, headers=writer)
    assert amended.status_code == 200
    assert amended.json["changes"] == {"title": "New"}
    assert client.get(url).json["title"] == "New"


def test_writes_need_a_write_key(client: FlaskClient) -> None:
    anonymous = client.post("/api/v1/incidents", json=incident_json())
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = client.post(
        "/api/v1/incidents", json=incident_json(), headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401
    reader = client.post(
        "/api/v1/incidents", json=incident_json(), headers={"Authorization": f"Bearer {READ_KEY}"}
    )
    assert reader.status_code == 403


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"kind": "massacre"}, ["kind"]),
        ({"title": None}, ["title"]),
        ({"colour": "red"}, ["colour"]),
        ({"occurred": {"start": "2023-01-08T01:00:00"}}, ["occurred", "start"]),
        ({"occurred": {"start": "2023-02-30"}}, ["occurred", "start"]),
        ({"occurred": {"start": "2023", "end": "2021"}}, ["occurred", "end"]),
        ({"occurred": {"start": "not a time"}}, ["occurred", "start"]),
        (
            {"occurred": {"start": "2023-01-08T01:00:00Z", "end": "2023-01-07T01:00:00Z"}},
            ["occurred", "end"],
        ),
        ({"location": {"name": "X", "lat": 95, "lon": 1}}, ["location", "lat"]),
        (
            {"statements": [{**as_json(a_statement()), "stance": "rumour"}]},
            ["statements", "0", "stance"],
        ),
    ],
)
def test_bad_incidents_are_422_naming_the_field(
    client: FlaskClient,
    writer: dict[str, str],
    services: Services,
    body: dict[str, Any],
    path: list[str],
) -> None:
    response = client.post("/api/v1/incidents", json={**incident_json(), **body}, headers=writer)
    assert response.status_code == 422, response.json
    errors = response.json["errors"]["json"]
    for part in path:
        errors = errors[part]
    assert errors
    assert services.app.head() == 0


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"stated_at": "2023-01-08T10:00:00"}, ["stated_at"]),
        ({"stance": "rumour"}, ["stance"]),
        ({"source": {"name": "MoD", "side": "RU"}}, ["source", "type"]),
        ({"text": None}, ["text"]),
        ({"unknown": 1}, ["unknown"]),
        ({"figures": [{"metric": "killed", "value": 5, "low": 9}]}, ["figures", "0", "low"]),
        ({"figures": [{"metric": "killed", "value": 5, "high": 1}]}, ["figures", "0", "high"]),
        ({"responds_to": "1b4e28ba-2fa1-11d2-883f-0016d3cca427"}, ["responds_to"]),
        ({"responds_to": "not-a-uuid"}, ["responds_to"]),
        ({"citations": [{"url": "javascript:alert(1)"}]}, ["citations", "0", "url"]),
        ({"citations": [{"outlet": "AFP"}]}, ["citations", "0", "url"]),
        (
            {"citations": [{"url": "https://a.example", "reference": "b"}]},
            ["citations", "0", "url"],
        ),
        ({"citations": [{"reference": "x" * 4001}]}, ["citations", "0", "reference"]),
        ({"stated_at": "2023-01-08"}, ["stated_at"]),
    ],
)
def test_bad_statements_are_422_naming_the_field_and_write_nothing(
    client: FlaskClient,
    writer: dict[str, str],
    services: Services,
    body: dict[str, Any],
    path: list[str],
) -> None:
    incident = report(client, writer)
    head = services.app.head()
    response = client.post(
        f"/api/v1/incidents/{incident['id']}/statements",
        json={**statement_json(), **body},
        headers=writer,
    )
    assert response.status_code == 422, response.json
    errors = response.json["errors"]["json"]
    for part in path:
        errors = errors[part]
    assert errors and response.json["message"]
    assert services.app.head() == head


def test_malformed_json_is_400(client: FlaskClient, writer: dict[str, str]) -> None:
    response = client.post(
        "/api/v1/incidents",
        data="{not json",
        headers={**writer, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json["code"] == 400 and "JSON" in response.json["message"]


def test_unknown_incident_is_404(client: FlaskClient, writer: dict[str, str]) -> None:
    url = "/api/v1/incidents/1b4e28ba-2fa1-11d2-883f-0016d3cca427"
    assert client.get(url).status_code == 404
    assert (
        client.post(f"{url}/statements", json=statement_json(), headers=writer).status_code == 404
    )
    assert client.patch(url, json={"title": "x", "reason": "y"}, headers=writer).status_code == 404
    assert client.get("/api/v1/incidents/not-a-uuid").status_code == 404


def test_unknown_statement_withdrawal_is_404(client: FlaskClient, writer: dict[str, str]) -> None:
    incident = report(client, writer)
    url = (
        f"/api/v1/incidents/{incident['id']}/statements/"
        "1b4e28ba-2fa1-11d2-883f-0016d3cca427/withdrawal"
    )
    assert client.post(url, json={"reason": "x"}, headers=writer).status_code == 404


def test_a_body_over_the_limit_is_413(
    client: FlaskClient, writer: dict[str, str], services: Services
) -> None:
    huge = "x" * (services.settings.max_body_bytes + 1)
    response = client.post(
        "/api/v1/incidents", json={**incident_json(), "title": huge}, headers=writer
    )
    assert response.status_code == 413
    assert response.json["code"] == 413
    assert services.app.head() == 0


def test_batch_is_all_or_nothing(
    client: FlaskClient, writer: dict[str, str], services: Services
) -> None:
    existing = report(client, writer)
    good = {**incident_json(), "statements": [statement_json()]}
    bad = {
        "id": existing["id"],
        "statements": [
            statement_json(stance="claim", responds_to="1b4e28ba-2fa1-11d2-883f-0016d3cca427")
        ],
    }
    head = services.app.head()
    rejected = client.post("/api/v1/batch", json={"items": [good, bad]}, headers=writer)
    assert rejected.status_code == 422
    assert "responds_to" in rejected.json["errors"]["json"]["items"]["1"]["statements"]["0"]
    assert services.app.head() == head
    accepted = client.post(
        "/api/v1/batch",
        json={"items": [good, {"id": existing["id"], "statements": [statement_json()]}]},
        headers=writer,
    )
    assert accepted.status_code == 201
    assert [len(i["statements"]) for i in accepted.json["items"]] == [1, 1]
    assert accepted.json["position"] == services.app.head()


def test_batch_can_skip_or_hold_refused_items_and_dry_run(
    client: FlaskClient, writer: dict[str, str], services: Services
) -> None:
    good = {**incident_json(), "statements": [statement_json()]}
    # (the schema's own checks refuse a request whole; these only the domain can judge)
    ends_first = {**incident_json(), "occurred": {"start": "2022-03-05", "end": "2022-03-04"}}
    taken = {**incident_json(), "id": report(client, writer)["id"],
             "statements": [statement_json()]}  # fmt: skip
    repeated = {**incident_json(), "id": taken["id"], "statements": [
        {**taken["statements"][0], "id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427"},
        {**statement_json(), "id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427"}]}  # fmt: skip
    items = [good, ends_first, repeated]
    head = services.app.head()
    checked = client.post("/api/v1/batch", json={"items": items, "dry_run": True},
                          headers=writer)  # fmt: skip
    assert checked.status_code == 200, checked.json
    assert [(r["index"], r["field"], r["status"]) for r in checked.json["refused"]] == [
        (1, "occurred.end", 422), (2, "statements.1.id", 409)]  # fmt: skip
    assert checked.json["items"] == [] and services.app.head() == head
    held = client.post("/api/v1/batch", json={"items": items, "on_refused": "hold"},
                       headers=writer)  # fmt: skip
    assert held.status_code == 422 and len(held.json["refused"]) == 2, held.json
    assert "2 item(s) refused" in held.json["message"] and services.app.head() == head
    skipped = client.post("/api/v1/batch", json={"items": items, "on_refused": "skip"},
                          headers=writer)  # fmt: skip
    assert skipped.status_code == 201, skipped.json
    assert [i["index"] for i in skipped.json["items"]] == [0]
    assert [r["index"] for r in skipped.json["refused"]] == [1, 2]
    assert skipped.json["position"] == services.app.head() == head + 2  # report, statement


def test_batch_needs_fields_for_a_new_incident(client: FlaskClient, writer: dict[str, str]) -> None:
    response = client.post("/api/v1/batch", json={"items": [{"statements": []}]}, headers=writer)
    assert response.status_code == 422
    assert "items" in response.json["errors"]["json"]


def test_a_batch_that_writes_nothing_is_not_a_server_error(
    client: FlaskClient, writer: dict[str, str], services: Services
) -> None:
    """Found by schemathesis: an existing incident with no statements made max() fail."""
    existing = report(client, writer)
    head = services.app.head()
    response = client.post(
        "/api/v1/batch", json={"items": [{"id": existing["id"]}]}, headers=writer
    )
    assert response.status_code == 200, response.json  # 200: nothing created
    assert response.json["position"] == head
    assert response.json["items"][0]["outcome"] == "unchanged"
    assert services.app.head() == head


def test_a_patch_that_changes_nothing_answers_the_unchanged_version(
    client: FlaskClient, writer: dict[str, str], services: Services
) -> None:
    incident = report(client, writer)
    url = f"/api/v1/incidents/{incident['id']}"
    head = services.app.head()
    same = client.patch(url, json={"title": incident_json()["title"], "reason": "resent"},
                        headers=writer)  # fmt: skip
    assert same.status_code == 200, same.json
    assert (same.json["changes"], same.json["position"]) == ({}, None)
    assert same.json["version"] == incident["version"]
    assert services.app.head() == head  # nothing written


def test_dates_months_and_years_are_occurrence_times(
    client: FlaskClient, writer: dict[str, str]
) -> None:
    incident = report(client, writer, occurred={"start": "2009-02-20", "end": "2009-02-20"})
    shown = client.get(f"/api/v1/incidents/{incident['id']}").json["occurred"]
    assert shown == {
        "start": "2009-02-20T00:00:00.000000+00:00",
        "end": "2009-02-21T00:00:00.000000+00:00",
        "precision": "day",
    }
    yearly = report(client, writer, occurred={"start": "2009"})
    shown = client.get(f"/api/v1/incidents/{yearly['id']}").json["occurred"]
    assert (shown["start"][:10], shown["precision"]) == ("2009-01-01", "year")


def test_citations_by_reference_and_subjects_by_name_come_back(
    client: FlaskClient, writer: dict[str, str]
) -> None:
    article = "BBC Monitoring, 21 February 2009; Radio Okapi, 22 February 2009"
    figure = {"metric": "killed", "value": 12, "subject": "Government of Central African Republic"}
    incident = report(client, writer, statements=[
        statement_json(citations=[{"reference": article}], figures=[figure])
    ])  # fmt: skip
    (statement,) = client.get(f"/api/v1/incidents/{incident['id']}").json["statements"]
    assert statement["citations"] == [
        {"url": None, "reference": article, "outlet": None, "published_at": None}
    ]
    assert statement["figures"][0]["subject"] == figure["subject"]


@pytest.mark.parametrize("edge", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_edge_times_are_422_in_bodies_and_queries(
    client: FlaskClient, writer: dict[str, str], edge: str
) -> None:
    incident = report(client, writer)
    url = f"/api/v1/incidents/{incident['id']}/statements"
    posted = client.post(url, json=statement_json(stated_at=edge), headers=writer)
    assert posted.status_code == 422 and "stated_at" in posted.json["errors"]["json"]
    for path in ("/api/v1/timeline?as_of=", "/api/v1/timeline?from=", "/api/v1/sources?as_of="):
        answer = client.get(path + edge.replace("+", "%2B"))
        assert answer.status_code == 422, (path, answer.status_code)


def test_places_and_properties_come_back_on_every_read(
    client: FlaskClient, writer: dict[str, str], services: Services
) -> None:
    place = {"name": "Bangassou", "admin1": "Mbomou", "admin2": "Bangassou", "admin3": None,
             "country": "CF", "precision": "admin2", "lat": 4.74, "lon": 22.82}  # fmt: skip
    columns = {"where_description": "near the market", "event_clarity": 1}
    incident = report(client, writer, location=place, properties=columns)
    stored = {**place, "country_name": "Central African Republic"}
    shown = client.get(f"/api/v1/incidents/{incident['id']}").json
    assert (shown["location"], shown["properties"]) == (stored, columns)
    services.runner.run_all()
    (item,) = client.get(f"/api/v1/timeline?incident={incident['id']}").json["items"]
    assert (item["incident"]["location"], item["incident"]["properties"]) == (stored, columns)
    bad = client.post("/api/v1/incidents", json={**incident_json(), "properties": {"a": [1]}},
                      headers=writer)  # fmt: skip
    assert bad.status_code == 422 and "a" in bad.json["errors"]["json"]["properties"]


def test_actors_go_in_as_codes_or_objects_and_come_back_as_objects(
    client: FlaskClient, writer: dict[str, str], services: Services
) -> None:
    lra = {"name": "LRA: Lord's Resistance Army", "side": None, "type": "rebel_group",
           "code": "LRA"}  # fmt: skip
    incident = report(client, writer, actors=["UA", lra])
    shown = client.get(f"/api/v1/incidents/{incident['id']}").json["actors"]
    assert shown == [{"name": "UA", "side": "UA", "type": None, "code": None}, lra]
    services.runner.run_all()
    (item,) = client.get(f"/api/v1/timeline?incident={incident['id']}").json["items"]
    assert item["incident"]["actors"] == shown
    bad = client.post("/api/v1/incidents", json={**incident_json(), "actors": [{"side": "UA"}]},
                      headers=writer)  # fmt: skip
    assert bad.status_code == 422 and "name" in bad.json["errors"]["json"]["actors"]["0"]


def test_a_malformed_id_in_a_path_is_a_json_404_saying_so(client: FlaskClient) -> None:
    for url in ("/api/v1/incidents/kramatorsk", "/api/v1/incidents/kramatorsk/history"):
        response = client.get(url)
        assert response.status_code == 404 and response.is_json
        assert "'kramatorsk' is not an id" in response.json["message"]
    assert "not found" in client.get("/api/v1/nothing-here").json["message"]


def test_every_201_says_where_the_written_resource_is(
    client: FlaskClient, writer: dict[str, str]
) -> None:
    created = client.post("/api/v1/incidents", json=incident_json(), headers=writer)
    incident = f"/api/v1/incidents/{created.json['id']}"
    assert created.headers["Location"] == incident
    said = client.post(f"{incident}/statements", json=statement_json(), headers=writer)
    assert said.status_code == 201 and said.headers["Location"] == incident
    withdrawn = client.post(f"{incident}/statements/{said.json['id']}/withdrawal",
                            json={"reason": "mis-recorded"}, headers=writer)  # fmt: skip
    assert withdrawn.status_code == 200 and withdrawn.headers["Location"] == incident


def test_if_match_makes_a_write_conditional_on_the_version_read(
    client: FlaskClient, writer: dict[str, str], services: Services
) -> None:
    incident = f"/api/v1/incidents/{report(client, writer)['id']}"
    read = client.get(incident)
    tag = read.headers["ETag"]
    assert tag == f'"{read.json["version"]}"'
    # two editors read the same version; the first write wins, the second is refused
    first = client.patch(incident, json={"title": "First", "reason": "r"},
                         headers={**writer, "If-Match": tag})  # fmt: skip
    assert first.status_code == 200 and first.headers["ETag"] == f'"{first.json["version"]}"'
    head = services.app.head()
    second = client.patch(incident, json={"title": "Second", "reason": "r"},
                          headers={**writer, "If-Match": tag})  # fmt: skip
    assert second.status_code == 412
    assert second.json["current_version"] == first.json["version"]
    assert services.app.head() == head  # nothing written
    for url, body in ((f"{incident}/statements", statement_json()),
                      (f"{incident}/retirement", {"reason": "recorded_in_error"}),
                      (f"{incident}/restoration", {"reason": "r"})):  # fmt: skip
        stale = client.post(url, json=body, headers={**writer, "If-Match": tag})
        assert stale.status_code == 412, url
    assert services.app.head() == head
    # the current tag (or several, or *) lets it through; a weak or malformed one never does
    either = f'"99", {first.headers["ETag"]}'
    said = client.post(f"{incident}/statements", json=statement_json(),
                       headers={**writer, "If-Match": either})  # fmt: skip
    assert said.status_code == 201 and said.headers["ETag"] == f'"{said.json["version"]}"'
    any_version = {**writer, "If-Match": "*"}
    withdrawn = client.post(f"{incident}/statements/{said.json['id']}/withdrawal",
                            json={"reason": "wrong"}, headers=any_version)  # fmt: skip
    assert withdrawn.status_code == 200
    current = client.get(incident).headers["ETag"]
    for weak in (f"W/{current}", "4", '"four"'):
        refused = client.patch(incident, json={"title": "T", "reason": "r"},
                               headers={**writer, "If-Match": weak})  # fmt: skip
        assert refused.status_code == 412, weak


def test_an_invalid_write_is_refused_as_invalid_whatever_its_if_match(
    client: FlaskClient, writer: dict[str, str], services: Services
) -> None:
    """RFC 9110 weighs preconditions after the request's own checks: a client fixing a 412
    by reading again must not then meet a 422 it could have been told about at once."""
    incident = f"/api/v1/incidents/{report(client, writer)['id']}"
    stale = {**writer, "If-Match": '"99"'}
    head = services.app.head()
    too_long = [{"name": "militia", "code": "x" * 200}]
    for method, url, body in (
        ("PATCH", incident, {"actors": too_long, "reason": "r"}),
        ("POST", f"{incident}/statements", statement_json(figures=[{"metric": "killed",
                                                                    "value": 5, "low": 9}])),
        ("POST", f"{incident}/statements/{uuid.uuid4()}/withdrawal", {"reason": "r"}),
    ):  # fmt: skip
        answer = client.open(url, method=method, json=body, headers=stale)
        assert answer.status_code in (404, 422), (url, answer.status_code, answer.json)
    assert services.app.head() == head


def test_a_bad_statement_in_a_report_is_named_by_its_place_in_the_body(
    client: FlaskClient, writer: dict[str, str]
) -> None:
    bad = statement_json(figures=[{"metric": "killed", "value": 5, "low": 9}])
    body = {**incident_json(), "statements": [statement_json(), bad]}
    answer = client.post("/api/v1/incidents", json=body, headers=writer)
    assert answer.status_code == 422
    assert "low" in answer.json["errors"]["json"]["statements"]["1"]["figures"]["0"]

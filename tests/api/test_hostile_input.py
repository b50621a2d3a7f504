"""Hostile query strings: SQL metacharacters and huge values in every query parameter of every
GET operation the OpenAPI document lists are answered with a 4xx or a normal answer, never a
5xx, and leave the data as it was."""

from __future__ import annotations

import re
from typing import Any
from uuid import uuid4

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import ADMIN_KEY
from tests.factories import a_statement, an_incident, as_json
from timeline.bootstrap import Services

HOSTILE = [
    "' OR '1'='1",
    "1; DROP TABLE timeline_items; --",
    '"); DELETE FROM projection_positions; --',
    "%' UNION SELECT * FROM webhook_deliveries --",
    "\\x00\\\\",
    "😀" * 50,
    "9" * 400,
    "a" * 20_000,
    # the edges of what a datetime can hold: one hour either way leaves it
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
]
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """Both SQL dialects."""
    return str(request.param)


def test_hostile_query_values_are_harmless(client: FlaskClient, services: Services) -> None:
    written = services.app.report_incident(an_incident(), statements=[a_statement()])
    services.runner.run_all()
    before = client.get("/api/v1/timeline").json["items"]
    spec = client.get("/api/v1/openapi.json").json
    incident = written.incident_id
    statement = written.statements[0]["id"]
    tried, failed = 0, []
    for path, operations in spec["paths"].items():
        get = operations.get("get")
        if get is None or path.endswith("/stream"):
            continue
        url = re.sub(r"\{incident_id\}", incident, path)
        url = re.sub(r"\{statement_id\}", statement, url)
        url = re.sub(r"\{[a-z_]+\}", "00000000-0000-4000-8000-000000000000", url)
        names = [p["name"] for p in get.get("parameters", []) if p["in"] == "query"]
        for name in names:
            for value in HOSTILE:
                response = client.get(url, query_string={name: value}, headers=ADMIN)
                if response.status_code >= 500 or not response.is_json:
                    failed.append((path, name, value[:40], response.status_code))
                tried += 1
    assert failed == []
    assert tried > 200  # every query parameter of the contract, not a handful
    assert client.get("/api/v1/timeline").json["items"] == before
    assert all(s.lag == 0 for s in services.runner.status())


EDGES = [
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "0001-01-01",
    "9999-12",
    "9999",
]


def test_dates_at_the_edges_of_the_calendar_are_never_a_server_error(
    client: FlaskClient, writer: dict[str, str], services: Services
) -> None:
    written = services.app.report_incident(an_incident(), statements=[a_statement()])
    incident = written.incident_id
    base = as_json(an_incident())
    said = as_json(a_statement())
    one = f"/api/v1/incidents/{incident}"
    bodies: list[tuple[str, str, Any]] = []
    for edge in EDGES:
        item = {**base, "stated_at": edge, "statements": [{**said, "stated_at": edge}]}
        bodies += [
            ("post", "/api/v1/incidents", {**base, "stated_at": edge}),
            ("post", "/api/v1/incidents", {**base, "occurred": {"start": edge}}),
            ("post", "/api/v1/incidents", {**base, "occurred": {**base["occurred"], "end": edge}}),
            ("patch", one, {"reason": "r", "stated_at": edge, "title": edge}),
            ("patch", one, {"reason": "r", "occurred": {"start": edge}}),
            ("post", f"{one}/statements", {**said, "stated_at": edge}),
            ("post", f"{one}/retirement", {"reason": "recorded_in_error", "stated_at": edge}),
            ("post", "/api/v1/batch", {"stated_at": edge, "items": [base]}),
            ("post", "/api/v1/batch", {"items": [item]}),
        ]
    failed, refused = [], 0
    for method, url, body in bodies:
        response = getattr(client, method)(url, json=body, headers=writer)
        if response.status_code >= 500 or not response.is_json:
            failed.append((method, url, body, response.status_code))
        refused += response.status_code == 422
    assert failed == []
    assert refused > len(bodies) / 2  # checked and refused, not turned away at the door
    for edge in EDGES:  # and what was stored reads back (the demo of a far-future figure)
        for url in (one, f"{one}/history",
                    "/api/v1/timeline", "/api/v1/incidents", "/api/v1/aggregates"):  # fmt: skip
            response = client.get(url, query_string={"as_of": edge}, headers=ADMIN)
            assert response.status_code < 500, (url, edge)


def test_unparsable_bodies_are_a_client_error_and_write_nothing(
    client: FlaskClient, writer: dict[str, str], services: Services
) -> None:
    head = services.app.head()
    deep = "[" * 100_000 + "]" * 100_000
    nested_in_a_field = '{"title": ' + "[" * 5_000 + "]" * 5_000 + "}"
    surrogate = '{"title": "\\ud800", "kind": "strike"}'
    for url in ("/api/v1/incidents", "/api/v1/batch"):
        for body in (deep, nested_in_a_field, surrogate):
            response = client.post(
                url, data=body, headers={**writer, "Content-Type": "application/json"}
            )
            assert response.status_code in (400, 422), (url, body[:30], response.status_code)
            assert response.is_json and response.json["message"]
    assert services.app.head() == head


def test_every_405_says_which_methods_the_resource_takes(app: Flask, client: FlaskClient) -> None:
    """RFC 9110: a 405 carries Allow (found by schemathesis on 22 operations)."""
    answered = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        url = rule.rule
        for name, converter in rule._converters.items():
            value = {"UUIDConverter": str(uuid4()), "IntegerConverter": "1"}.get(
                type(converter).__name__, "x"
            )
            url = re.sub(rf"<[^>]*:?{name}>", value, url)
        for method in sorted({"GET", "POST", "PUT", "PATCH", "DELETE"} - set(rule.methods or ())):
            answer = client.open(url, method=method)
            if answer.status_code != 405:
                continue
            answered += 1
            allowed = {m.strip() for m in answer.headers.get("Allow", "").split(",")}
            assert set(rule.methods or ()) <= allowed, (method, url, answer.headers)
            assert answer.json["code"] == 405 and "It takes" in answer.json["message"]
    assert answered > 20


@pytest.mark.parametrize(
    ("path", "formats"),
    [("/api/v1/incidents", ("ndjson", "csv", "acled-csv", "geojson")),
     ("/api/v1/timeline", ("ndjson", "csv")), ("/api/v1/claims", ("ndjson", "csv"))],
)  # fmt: skip
def test_every_format_a_listing_serves_is_declared(
    client: FlaskClient, path: str, formats: tuple[str, ...]
) -> None:
    declared = client.get("/api/v1/openapi.json").json["paths"][path]["get"]["responses"]["200"]
    for data_format in ("json", *formats):
        answer = client.get(path, query_string={"format": data_format})
        assert answer.status_code == 200, (data_format, answer.data[:200])
        assert answer.mimetype in declared["content"], (data_format, answer.mimetype)


def test_the_documented_external_id_pattern_is_what_the_server_takes(client: FlaskClient) -> None:
    """A generated client checks external_id by the document's pattern: it must agree with
    the server (schemathesis found `namespace:` refused while the document allowed any text)."""
    parameters = client.get("/api/v1/openapi.json").json["paths"]["/api/v1/incidents"]["get"]
    (schema,) = [p["schema"] for p in parameters["parameters"] if p["name"] == "external_id"]
    for sample in ("acled:UKR1", "ucdp-ged:256002", "mon.2:a b", "256002", "ACLED:1",
                   "acled:", ":1", "a" * 40 + ":1", "acled:" + "x" * 201):  # fmt: skip
        documented = re.search(schema["pattern"], sample) is not None
        answer = client.get("/api/v1/incidents", query_string={"external_id": sample})
        assert (answer.status_code != 422) == documented, (sample, answer.status_code)

"""Read endpoints through the Flask test client: timeline, incident replay, events, health."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from api.schema_rules import NOT_BLANK
from tests.conftest import READ_KEY
from tests.factories import T0, a_statement, an_incident, as_json
from timeline.bootstrap import Services
from timeline.projections.timeline import TimelineProjection


def load(services: Services, incidents: int = 3, statements: int = 2) -> None:
    services.app.apply_batch(
        [
            {**an_incident(), "statements": [a_statement() for _ in range(statements)]}
            for _ in range(incidents)
        ]
    )
    services.runner.run("timeline")


def test_timeline_pages_with_a_cursor_until_the_end(
    client: FlaskClient, services: Services
) -> None:
    load(services, incidents=5, statements=3)
    seen: list[str] = []
    url = "/api/v1/timeline?limit=7"
    while url:
        page = client.get(url)
        assert page.status_code == 200
        assert page.json["position"] == services.app.head()
        assert page.headers["X-Projection-Position"] == str(services.app.head())
        seen += [item["id"] for item in page.json["items"]]
        cursor = page.json["next_cursor"]
        url = f"/api/v1/timeline?limit=7&cursor={cursor}" if cursor else ""
    assert len(seen) == len(set(seen)) == 20


def test_timeline_filters_and_item_shape(client: FlaskClient, services: Services) -> None:
    load(services, incidents=1, statements=1)
    page = client.get("/api/v1/timeline?type=statement&side=RU&stance=claim,denial").json
    assert len(page["items"]) == 1
    item = page["items"][0]
    assert item["statement"]["source"]["side"] == "RU"
    assert item["incident"]["kind"] == "strike"
    assert item["at"] == item["statement"]["stated_at"]
    lower = client.get("/api/v1/timeline?type=statement&side=ru&stance=claim,denial").json
    assert lower["items"] == page["items"]  # side codes in any case
    bad = client.get("/api/v1/timeline?side=R%20U")
    assert bad.status_code == 422 and "side" in str(bad.json["errors"])


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2023-02-01T00:00:00Z&to=2023-01-01T00:00:00Z", "from"),
        ("from=2023-02-01T00:00:00", "from"),
        ("as_of=yesterday", "as_of"),
        ("kind=massacre", "kind"),
        ("stance=rumour", "stance"),
        ("limit=1001", "limit"),
        ("limit=0", "limit"),
        ("bbox=1,2,3", "bbox"),
        ("bbox=10,10,0,0", "bbox"),
        ("incident=abc", "incident"),
        ("colour=red", "colour"),
    ],
)
def test_bad_timeline_queries_are_422_naming_the_parameter(
    client: FlaskClient, query: str, field: str
) -> None:
    response = client.get(f"/api/v1/timeline?{query}")
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]["query"]


def test_a_tampered_cursor_is_400(client: FlaskClient, services: Services) -> None:
    load(services)
    cursor = client.get("/api/v1/timeline?limit=1").json["next_cursor"]
    forged = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    response = client.get(f"/api/v1/timeline?cursor={forged}")
    assert response.status_code == 400
    assert response.json["errors"]["query"]["cursor"]


def test_min_position_waits_then_answers_503(client: FlaskClient, services: Services) -> None:
    load(services, incidents=1, statements=0)
    assert client.get("/api/v1/timeline?min_position=1").status_code == 200
    services.app.report_incident(an_incident())  # not projected yet
    behind = client.get(f"/api/v1/timeline?min_position={services.app.head()}")
    assert behind.status_code == 503
    assert behind.headers["Retry-After"] == "1"


def test_timeline_as_of_shows_the_past(client: FlaskClient, services: Services) -> None:
    first = services.app.report_incident(an_incident())
    services.app.report_incident(an_incident())
    services.runner.run("timeline")
    as_of = first.recorded_at.isoformat()
    page = client.get("/api/v1/timeline", query_string={"as_of": as_of}).json
    assert [i["id"] for i in page["items"]] == [first.incident_id]


def test_incident_as_of_and_clock(
    client: FlaskClient, writer: dict[str, str], services: Services
) -> None:
    written = services.app.report_incident(an_incident(), statements=[a_statement()])
    url = f"/api/v1/incidents/{written.incident_id}"
    now = client.get(url).json
    assert now["version"] == 2 and now["clock"] == "recorded"
    early = client.get(url, query_string={"as_of": "2020-01-01T00:00:00Z"})
    assert early.status_code == 404
    assert "not yet recorded" in early.json["message"]
    # On the stated clock, an incident is known once published or spoken of: this one was
    # published now, and its statement was made later than 02:00 on the day.
    stated = client.get(url, query_string={"as_of": "2023-01-08T02:00:00Z", "clock": "stated"})
    assert stated.status_code == 404 and "published" in stated.json["message"]
    said = a_statement()["stated_at"].isoformat()
    spoken = client.get(url, query_string={"as_of": said, "clock": "stated"}).json
    assert len(spoken["statements"]) == 1 and spoken["title"] == now["title"]
    assert client.get(url, query_string={"clock": "wall"}).status_code == 422


def test_events_follow_the_log_by_position(client: FlaskClient, services: Services) -> None:
    load(services, incidents=2, statements=2)
    first = client.get("/api/v1/events?limit=4").json
    assert [e["position"] for e in first["items"]] == [1, 2, 3, 4]
    assert first["items"][0]["type"] == "IncidentReported"
    assert first["items"][1]["data"]["statement"]["stance"] == "claim"
    rest = client.get(f"/api/v1/events?after={first['next_after']}").json
    assert [e["position"] for e in rest["items"]] == [5, 6]
    assert rest["next_after"] == 6
    assert client.get("/api/v1/events?limit=5000").status_code == 422


def test_ledger_head_follows_the_chain(client: FlaskClient, services: Services) -> None:
    assert client.get("/api/v1/ledger").json == {
        "position": 0,
        "hash": None,
        "log_head": 0,
        "algorithm": "sha256-chain-v2",
    }
    load(services, incidents=1, statements=1)
    services.runner.run("ledger")
    body = client.get("/api/v1/ledger").json
    assert body["position"] == body["log_head"] == 2
    assert len(body["hash"]) == 64


def test_health_and_readiness_report_lag(client: FlaskClient, services: Services) -> None:
    assert client.get("/api/v1/health").json == {"status": "ok"}
    services.app.report_incident(an_incident())
    ready = client.get("/api/v1/ready").json
    assert ready["ready"] and ready["redis"] == "ok" and ready["database"] == "ok"
    assert ready["projections"][0] == {
        "name": "timeline",
        "version": TimelineProjection.version,
        "position": 0,
        "head": 1,
        "lag": 1,
        "problem": None,
        "stopped": None,
    }
    assert [p["name"] for p in ready["projections"]] == list(services.projections)


def test_openapi_document_lists_the_contract(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").json
    for path in (
        "/api/v1/incidents",
        "/api/v1/incidents/{incident_id}",
        "/api/v1/incidents/{incident_id}/statements",
        "/api/v1/incidents/{incident_id}/statements/{statement_id}/withdrawal",
        "/api/v1/batch",
        "/api/v1/timeline",
        "/api/v1/events",
        "/api/v1/events/stream",
        "/api/v1/subscriptions",
        "/api/v1/subscriptions/{subscription_id}/deliveries",
        "/api/v1/subscriptions/{subscription_id}/replay",
        "/api/v1/health",
        "/api/v1/ready",
    ):
        assert path in spec["paths"]
    assert "bearerAuth" in spec["components"]["securitySchemes"]
    assert client.get("/api/v1/docs").status_code == 200


def test_the_document_states_the_rules_a_schema_cannot(client: FlaskClient) -> None:
    """What ``make contract`` relies on, said of the document itself: every refusal that
    depends on state or on two fields at once is a documented response with its error body,
    and a nullable nested object is that object or null, not any object."""
    spec = client.get("/api/v1/openapi.json").json
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            names = {p["name"] for p in [*operations.get("parameters", []),
                                         *operation.get("parameters", [])]}  # fmt: skip
            responses = operation["responses"]
            for parameter, status in (("cursor", "400"), ("min_position", "422"),
                                      ("min_position", "503"), ("If-Match", "412")):  # fmt: skip
                if parameter in names:
                    assert parameter in responses[status]["description"], (method, path, status)
                    assert "application/json" in responses[status]["content"], (method, path)
    health = spec["paths"]["/api/v1/health"]["get"]["responses"]["200"]
    assert "application/json" in health["content"]  # every answer's format is declared
    text = json.dumps(spec)
    assert '"anyOf": [{"type": "object", "nullable": true}' not in text
    assert ', {"type": "object", "nullable": true}]' not in text
    location = spec["components"]["schemas"]["IncidentIn"]["properties"]["location"]
    assert location == {"allOf": [{"$ref": "#/components/schemas/Location"}], "nullable": True}
    occurred = spec["components"]["schemas"]["Occurred"]["properties"]["start"]
    assert {"format": "date-time"} in occurred["anyOf"] and {"format": "date"} in occurred["anyOf"]
    assert spec["components"]["schemas"]["Location"]["properties"]["name"]["pattern"] == NOT_BLANK


def test_reads_can_require_a_key(services: Services) -> None:
    settings = services.settings.with_changes(read_requires_key=True)
    strict = create_app(services=replace(services, settings=settings))
    client = strict.test_client()
    assert client.get("/api/v1/timeline").status_code == 401
    ok = client.get("/api/v1/timeline", headers={"Authorization": f"Bearer {READ_KEY}"})
    assert ok.status_code == 200


def test_unknown_routes_and_methods_are_json(client: FlaskClient, app: Flask) -> None:
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json["code"] == 404
    wrong = client.delete("/api/v1/timeline")
    assert wrong.status_code == 405 and wrong.json["code"] == 405


def test_history_lists_every_version_with_its_position(
    client: FlaskClient, services: Services
) -> None:
    written = services.app.report_incident(an_incident(), statements=[a_statement()])
    incident_id = UUID(written.incident_id)
    amended = services.app.amend_incident(incident_id, {"title": "Strike"}, "shorter")
    services.runner.run("history")
    body = client.get(f"/api/v1/incidents/{incident_id}/history").json
    assert [(v["version"], v["position"], v["type"]) for v in body["items"]] == [
        (1, 1, "IncidentReported"),
        (2, 2, "StatementRecorded"),
        (3, 3, "IncidentAmended"),
    ]
    assert body["items"][1]["summary"] == (
        "Russian Ministry of Defence (RU) claim: killed at least 600"
    )
    assert body["items"][2]["summary"] == "Amended title: shorter"
    assert body["position"] == amended.position
    missing = client.get("/api/v1/incidents/1b4e28ba-2fa1-11d2-883f-0016d3cca427/history")
    assert missing.status_code == 404


def test_diff_between_two_times_on_either_clock(client: FlaskClient, services: Services) -> None:
    claim = a_statement(stated_at=T0 + timedelta(hours=1))
    written = services.app.report_incident(an_incident(), statements=[claim])
    incident_id = UUID(written.incident_id)
    denial = a_statement(
        stance="denial",
        responds_to=written.statements[0]["id"],
        stated_at=T0 + timedelta(hours=5),
        figures=[{"metric": "killed", "value": 0, "subject": "UA"}],
    )
    later = services.app.record_statement(incident_id, denial)
    url = f"/api/v1/incidents/{incident_id}/diff"

    recorded = client.get(
        url,
        query_string={"from": written.recorded_at.isoformat(), "to": later.recorded_at.isoformat()},
    ).json
    assert [s["stance"] for s in recorded["statements_added"]] == ["denial"]
    assert recorded["figures_changed"] == [
        {
            "metric": "killed",
            "subject": "UA",
            "from": {"low": 600, "high": 600, "statements": 1},
            "to": {"low": 0, "high": 600, "statements": 2},
        }
    ]
    stated = client.get(
        url,
        query_string={
            "from": (T0 + timedelta(hours=2)).isoformat(),
            "to": (T0 + timedelta(hours=6)).isoformat(),
            "clock": "stated",
        },
    ).json
    assert [s["stance"] for s in stated["statements_added"]] == ["denial"]
    from_nothing = client.get(url, query_string={"from": "2000-01-01T00:00:00Z"}).json
    assert from_nothing["from_version"] == 0 and len(from_nothing["statements_added"]) == 2


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ({"from": "2023-02-01T00:00:00Z", "to": "2023-01-01T00:00:00Z"}, 422, "from"),
        ({"from": "2023-02-01T00:00:00"}, 422, "from"),
        ({"to": "2023-02-01T00:00:00Z"}, 422, "from"),
        ({"from": "yesterday"}, 422, "from"),
        ({"from": "2000-01-01T00:00:00Z", "to": "2000-01-02T00:00:00Z"}, 404, None),
    ],
)
def test_bad_diff_queries(
    client: FlaskClient, services: Services, query: dict[str, str], status: int, field: str | None
) -> None:
    written = services.app.report_incident(an_incident())
    response = client.get(f"/api/v1/incidents/{written.incident_id}/diff", query_string=query)
    assert response.status_code == status, response.json
    if field:
        assert field in response.json["errors"]["query"]


def test_claims_endpoint_with_filters_and_as_of(client: FlaskClient, services: Services) -> None:
    written = services.app.report_incident(an_incident(), statements=[a_statement()])
    services.runner.run("claims")
    page = client.get("/api/v1/claims", query_string={"incident": written.incident_id}).json
    assert page["position"] == 2
    assert page["items"][0]["figures"][0]["qualifier"] == "at_least"
    early = client.get("/api/v1/claims", query_string={"as_of": "2000-01-01T00:00:00Z"}).json
    assert early["items"] == []
    for query in (
        {"metric": "Killed People"},
        {"as_of": "2023-01-01T00:00:00"},
        {"incident": "nope"},
        {"colour": "red"},
    ):
        bad = client.get("/api/v1/claims", query_string=query)
        assert bad.status_code == 422, query
        assert set(bad.json["errors"]["query"]) == set(query)


def test_sources_endpoints(client: FlaskClient, services: Services) -> None:
    services.app.report_incident(an_incident(), statements=[a_statement()])
    services.runner.run("sources")
    page = client.get("/api/v1/sources").json
    assert [s["name"] for s in page["items"]] == ["Russian Ministry of Defence"]
    one = client.get("/api/v1/sources/Russian%20Ministry%20of%20Defence")
    assert one.status_code == 200 and one.json["claims"] == 1 and one.json["position"] == 2
    assert client.get("/api/v1/sources/Nobody").status_code == 404
    early = client.get("/api/v1/sources", query_string={"as_of": "2000-01-01T00:00:00Z"}).json
    assert early["items"] == []
    assert client.get("/api/v1/sources?as_of=2023-01-01T00:00:00").status_code == 422


def test_ceasefires_endpoint(client: FlaskClient, services: Services) -> None:
    services.app.report_incident(
        an_incident(
            kind="ceasefire",
            actors=["RU", "UA"],
            occurred={"start": T0, "end": T0 + timedelta(hours=36)},
        )
    )
    services.runner.run("ceasefires")
    page = client.get("/api/v1/ceasefires", query_string={"party": "RU"}).json
    assert [c["status"] for c in page["items"]] == ["held"] and page["position"] == 1
    bad = client.get(
        "/api/v1/ceasefires",
        query_string={"from": "2023-02-01T00:00:00Z", "to": "2023-01-01T00:00:00Z"},
    )
    assert bad.status_code == 422 and "from" in bad.json["errors"]["query"]
    assert client.get("/api/v1/ceasefires?as_of=2023-01-01T00:00:00").status_code == 422


def test_claims_page_by_incident(client: FlaskClient, services: Services) -> None:
    for _ in range(5):
        services.app.report_incident(an_incident(), statements=[a_statement()])
    services.runner.run("claims")
    seen: list[str] = []
    query: dict[str, Any] = {"limit": 2}
    while True:
        page = client.get("/api/v1/claims", query_string=query).json
        seen += [group["incident"]["id"] for group in page["items"]]
        if not page["next_cursor"]:
            break
        query = {"limit": 2, "cursor": page["next_cursor"]}
    assert len(seen) == len(set(seen)) == 5
    forged = client.get("/api/v1/claims", query_string={"cursor": "eyJ4Ijp9.forged"})
    assert forged.status_code == 400 and "cursor" in forged.json["errors"]["query"]
    services.runner.run("timeline")
    timeline_cursor = client.get("/api/v1/timeline?limit=1").json["next_cursor"]
    assert timeline_cursor
    misused = client.get("/api/v1/claims", query_string={"cursor": timeline_cursor})
    assert misused.status_code == 400  # a cursor only works for the listing that issued it


@pytest.mark.parametrize(
    "url",
    [
        f"/api/v1/events?after={2**64}",
        f"/api/v1/timeline?min_position={2**64}",
        f"/api/v1/claims?min_position={2**64}",
    ],
)
def test_positions_beyond_64_bits_are_422_not_500(client: FlaskClient, url: str) -> None:
    """Found by schemathesis: a huge integer reached SQLite and overflowed."""
    response = client.get(url)
    assert response.status_code == 422, response.json


def test_min_position_beyond_the_head_is_the_clients_mistake(
    client: FlaskClient, services: Services
) -> None:
    services.app.report_incident(an_incident())
    response = client.get("/api/v1/timeline?min_position=99")
    assert response.status_code == 422
    assert "min_position" in response.json["errors"]["query"]


def test_incidents_list_with_the_timelines_filters_and_page(
    client: FlaskClient, services: Services
) -> None:
    load(services, incidents=5, statements=2)
    services.app.report_incident(an_incident(kind="ceasefire", title="Truce", location=None))
    services.runner.run("timeline")
    seen: list[str] = []
    url = "/api/v1/incidents?limit=2"
    while url:
        page = client.get(url).json
        assert all(set(i) >= {"id", "title", "kind", "occurred", "actors"} for i in page["items"])
        seen += [item["id"] for item in page["items"]]
        url = (
            f"/api/v1/incidents?limit=2&cursor={page['next_cursor']}" if page["next_cursor"] else ""
        )
    assert len(seen) == len(set(seen)) == 6  # incidents only, none of their statements
    truce = client.get("/api/v1/incidents?kind=ceasefire").json["items"]
    assert [i["title"] for i in truce] == ["Truce"]
    assert client.get("/api/v1/incidents?q=truce").json["items"] == truce
    boxed = client.get("/api/v1/incidents?bbox=37,48,38,49").json["items"]
    assert len(boxed) == 5  # the truce has no place
    before = client.get("/api/v1/incidents?as_of=2000-01-01T00:00:00Z").json
    assert before["items"] == [] and before["position"] == services.app.head()
    assert client.get("/api/v1/incidents?side=RU").status_code == 422  # a statement filter


def test_an_external_id_finds_its_incident(
    client: FlaskClient, services: Services, writer: dict[str, str]
) -> None:
    body = {**as_json(an_incident()), "external_ids": {"ucdp-ged": "256002"}}
    created = client.post("/api/v1/incidents", json=body, headers=writer)
    assert created.status_code == 201
    taken = client.post("/api/v1/incidents", json=body, headers=writer)
    assert taken.status_code == 409 and "256002" in taken.json["message"]
    services.runner.run("timeline")
    (found,) = client.get("/api/v1/incidents?external_id=ucdp-ged:256002").json["items"]
    assert found["id"] == created.json["id"]
    assert found["external_ids"] == {"ucdp-ged": "256002"}
    none = client.get("/api/v1/incidents?external_id=ucdp-ged:1").json
    assert none["items"] == [] and none["position"] == services.app.head()
    bad = client.get("/api/v1/incidents?external_id=no-colon")
    assert bad.status_code == 422 and "external_id" in bad.json["errors"]["query"]


def test_the_docs_page_loads_swagger_ui_from_the_app_not_the_internet(
    client: FlaskClient,
) -> None:
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/v1/docs/assets/swagger-ui-bundle.js" in html
    assert "http://" not in html and "https://" not in html
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-standalone-preset.js"):
        served = client.get(f"/api/v1/docs/assets/{asset}")
        assert served.status_code == 200 and len(served.data) > 1000, asset

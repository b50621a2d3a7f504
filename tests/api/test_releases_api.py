"""POST and GET /api/v1/releases: a release recorded once, its namespace brought in line."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.factories import an_incident, as_json
from timeline.bootstrap import Services

T1, T2 = "2023-01-15T00:00:00Z", "2023-02-15T00:00:00Z"


def rows(client: FlaskClient, writer: dict[str, str], when: str, *ids: str) -> None:
    items = [{**as_json(an_incident(title=f"Row {i}")), "external_ids": {"mon": i}} for i in ids]
    body = {"items": items, "stated_at": when, "as_published": True, "listed": True}
    answer = client.post("/api/v1/batch", json=body, headers=writer)
    assert answer.status_code in (200, 201), answer.json


def test_a_release_retires_what_it_does_not_list_as_of_its_time(
    client: FlaskClient, writer: dict[str, str], services: Services
) -> None:
    rows(client, writer, T2, "a", "b")
    first = {"namespace": "mon", "stated_at": T2, "external_ids": ["a", "b"]}
    recorded = client.post("/api/v1/releases", json=first, headers=writer)
    assert recorded.status_code == 201, recorded.json
    assert recorded.json | {"stated_at": None} == {
        "namespace": "mon", "stated_at": None, "rows": 2, "new": True, "retired": 0,
        "restored": 0,
    }  # fmt: skip
    # An older release, loaded later, lists c, which the newer one left out
    rows(client, writer, T1, "a", "c")
    older = {"namespace": "mon", "stated_at": T1, "external_ids": ["a", "c"]}
    answer = client.post("/api/v1/releases", json=older, headers=writer)
    assert answer.status_code == 201 and answer.json["retired"] == 1  # c, as of T2
    again = client.post("/api/v1/releases", json=older, headers=writer)
    assert again.status_code == 200 and again.json["new"] is False
    other = client.post("/api/v1/releases", headers=writer,
                        json={**older, "external_ids": ["a"]})  # fmt: skip
    assert other.status_code == 409
    services.runner.run_all()

    def live(when: str) -> list[str]:
        page = client.get("/api/v1/incidents", query_string={
            "as_of": when, "clock": "stated", "namespace": "mon"}).json  # fmt: skip
        return sorted(i["external_ids"]["mon"] for i in page["items"])

    assert (live(T1), live(T2)) == (["a", "c"], ["a", "b"])
    listed = client.get("/api/v1/releases?namespace=mon").json["items"]
    assert [(r["rows"], r["added"], r["removed"], r["previous"]) for r in listed] == [
        (2, 2, 0, None), (2, 1, 1, listed[0]["stated_at"])
    ]  # fmt: skip
    assert client.get("/api/v1/releases?namespace=other").json["items"] == []


def test_a_release_is_checked_and_needs_a_write_key(
    client: FlaskClient, writer: dict[str, str]
) -> None:
    good = {"namespace": "mon", "stated_at": T1, "external_ids": ["a"]}
    assert client.post("/api/v1/releases", json=good).status_code == 401
    for bad, field in (
        ({**good, "namespace": "Not A Namespace"}, "namespace"),
        ({**good, "stated_at": "2999-01-01T00:00:00Z"}, "stated_at"),
        ({**good, "stated_at": "2023-01-15"}, "stated_at"),
        ({**good, "external_ids": [""]}, "external_ids"),
        ({**good, "external_ids": ["a", "\f "]}, "'1'"),  # blank: no row has that id
    ):
        answer = client.post("/api/v1/releases", json=bad, headers=writer)
        assert answer.status_code == 422, (bad, answer.json)
        assert field in str(answer.json), answer.json

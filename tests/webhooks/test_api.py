"""The subscriptions API: admin only, secret shown once, clear 422s, delivery log and replay."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from api import create_app
from tests.conftest import ADMIN_KEY, WRITE_KEY
from tests.factories import a_statement, an_incident, as_json
from tests.webhooks.helpers import ALL_TYPES
from tests.webhooks.receiver import Receiver
from timeline.bootstrap import Services
from timeline.config import Settings

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
BASE = "/api/v1/subscriptions"


def create(client: FlaskClient, receiver: Receiver, **fields: Any) -> dict[str, Any]:
    """POST a subscription for the receiver; teaches the receiver its secret."""
    body = {"url": receiver.url, "event_types": ALL_TYPES, **fields}
    response = client.post(BASE, json=body, headers=ADMIN)
    assert response.status_code == 201, response.json
    assert response.headers["Location"] == f"{BASE}/{response.json['id']}"
    receiver.secrets.append(response.json["secret"])
    return response.json  # type: ignore[no-any-return]


def report(client: FlaskClient) -> dict[str, Any]:
    body = as_json(an_incident()) | {"statements": [as_json(a_statement())]}
    response = client.post(
        "/api/v1/incidents", json=body, headers={"Authorization": f"Bearer {WRITE_KEY}"}
    )
    assert response.status_code == 201
    return response.json  # type: ignore[no-any-return]


def deliver_all(services: Services, subscription_id: str) -> None:
    services.runner.run("webhooks")
    services.deliverer.drain(subscription_id)


def test_subscriptions_need_an_admin_key(client: FlaskClient, receiver: Receiver) -> None:
    body = {"url": receiver.url, "event_types": ["statement.recorded"]}
    assert client.post(BASE, json=body).status_code == 401
    writer = {"Authorization": f"Bearer {WRITE_KEY}"}
    assert client.post(BASE, json=body, headers=writer).status_code == 403
    assert client.get(BASE, headers=writer).status_code == 403


def test_the_secret_is_shown_on_creation_only(client: FlaskClient, receiver: Receiver) -> None:
    created = create(client, receiver, description="Newsroom dashboard")
    assert created["secret"].startswith("whsec_")
    assert created["status"] == "active"
    response = client.get(f"{BASE}/{created['id']}", headers=ADMIN)
    assert response.status_code == 200
    assert "secret" not in response.json
    assert response.json["description"] == "Newsroom dashboard"
    listed = client.get(BASE, headers=ADMIN).json["items"]
    assert [s["id"] for s in listed] == [created["id"]]
    assert all("secret" not in s for s in listed)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.org/", "event_types": ["statement.recorded"]}, "url"),
        ({"url": "example.org/hook", "event_types": ["statement.recorded"]}, "url"),
        ({"url": "https://example.org/", "event_types": ["statement.deleted"]}, "event_types"),
        ({"url": "https://example.org/", "event_types": []}, "event_types"),
        ({"url": "https://example.org/"}, "event_types"),
        ({"url": "https://x.org/", "event_types": ["incident.reported"], "filter": 3}, "filter"),
        (
            {
                "url": "https://x.org/",
                "event_types": ["incident.reported"],
                "filter": {"kinds": ["picnic"]},
            },
            "filter",
        ),
        ({"url": "https://x.org/", "event_types": ["incident.reported"], "colour": 1}, "colour"),
    ],
)
def test_bad_subscriptions_get_a_422_naming_the_field(
    client: FlaskClient, body: dict[str, Any], field: str
) -> None:
    response = client.post(BASE, json=body, headers=ADMIN)
    assert response.status_code == 422
    assert field in response.json["errors"]["json"]
    assert client.get(BASE, headers=ADMIN).json["items"] == []


@pytest.fixture
def guarded(settings: Settings) -> Iterator[FlaskClient]:
    """A client of a deployment that keeps the SSRF guard's default (no private addresses)."""
    app = create_app(settings.with_changes(webhook_allow_private=False))
    yield app.test_client()
    app.extensions["timeline"].close()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://localhost/hook",
    ],
)
def test_private_addresses_are_refused_by_default(guarded: FlaskClient, url: str) -> None:
    body = {"url": url, "event_types": ["statement.recorded"]}
    response = guarded.post(BASE, json=body, headers=ADMIN)
    assert response.status_code == 422
    assert "public addresses only" in response.json["errors"]["json"]["url"][0]


def test_changing_the_url_to_a_private_address_is_refused(guarded: FlaskClient) -> None:
    body = {"url": "https://93.184.215.14/hook", "event_types": ["statement.recorded"]}
    created = guarded.post(BASE, json=body, headers=ADMIN).json
    response = guarded.patch(
        f"{BASE}/{created['id']}", json={"url": "http://127.0.0.1/"}, headers=ADMIN
    )
    assert response.status_code == 422
    assert guarded.get(f"{BASE}/{created['id']}", headers=ADMIN).json["url"] == body["url"]


def test_pause_resume_change_and_delete(client: FlaskClient, receiver: Receiver) -> None:
    created = create(client, receiver)
    url = f"{BASE}/{created['id']}"
    paused = client.patch(url, json={"status": "paused"}, headers=ADMIN)
    assert paused.status_code == 200 and paused.json["status"] == "paused"
    changed = client.patch(url, json={"filter": {"kinds": ["strike"]}}, headers=ADMIN)
    assert changed.json["filter"] == {"kinds": ["strike"], "sides": []}
    assert client.patch(url, json={"status": "disabled"}, headers=ADMIN).status_code == 422
    assert client.patch(url, json={"status": "active"}, headers=ADMIN).json["status"] == "active"
    assert client.delete(url, headers=ADMIN).status_code == 204
    assert client.get(url, headers=ADMIN).status_code == 404
    assert client.delete(url, headers=ADMIN).status_code == 404


def test_rotation_returns_a_new_secret_and_when_the_old_one_stops(
    client: FlaskClient, receiver: Receiver
) -> None:
    created = create(client, receiver)
    rotated = client.post(f"{BASE}/{created['id']}/secret/rotate", headers=ADMIN)
    assert rotated.status_code == 200
    assert rotated.json["secret"].startswith("whsec_")
    assert rotated.json["secret"] != created["secret"]
    assert rotated.json["previous_secret_valid_until"]


def test_delivery_log_redelivery_and_replay(
    client: FlaskClient, services: Services, receiver: Receiver
) -> None:
    created = create(client, receiver, event_types=["statement.recorded"])
    sid = created["id"]
    report(client)
    report(client)
    deliver_all(services, sid)
    assert len(receiver.wait_for(2)) == 2

    log = client.get(f"{BASE}/{sid}/deliveries", headers=ADMIN)
    assert log.status_code == 200
    items = log.json["items"]
    assert [i["position"] for i in items] == [4, 2]
    assert items[0]["status"] == "delivered"
    assert items[0]["webhook_id"] == "msg_4"
    assert items[0]["attempts"][0]["status_code"] == 200
    page = client.get(f"{BASE}/{sid}/deliveries?limit=1", headers=ADMIN).json
    assert [i["position"] for i in page["items"]] == [4]
    rest = client.get(f"{BASE}/{sid}/deliveries?before={page['next_before']}", headers=ADMIN)
    assert [i["position"] for i in rest.json["items"]] == [2]
    assert client.get(f"{BASE}/{sid}/deliveries/2", headers=ADMIN).json["position"] == 2
    assert client.get(f"{BASE}/{sid}/deliveries/3", headers=ADMIN).status_code == 404
    unknown = client.post(f"{BASE}/{sid}/deliveries/3/redeliver", headers=ADMIN)
    assert unknown.status_code == 404 and "position 3" in unknown.json["message"]
    beyond = 2**64  # no log position is that large (a 64-bit integer in the database)
    for method, path in (("GET", f"{beyond}"), ("POST", f"{beyond}/redeliver")):
        answer = client.open(f"{BASE}/{sid}/deliveries/{path}", method=method, headers=ADMIN)
        assert answer.status_code == 404, path
    bad = client.get(f"{BASE}/{sid}/deliveries?status=lost", headers=ADMIN)
    assert bad.status_code == 422 and "status" in bad.json["errors"]["query"]

    assert client.post(f"{BASE}/{sid}/deliveries/2/redeliver", headers=ADMIN).status_code == 202
    services.deliverer.drain(sid)
    assert sorted(r.webhook_id for r in receiver.wait_for(3)) == ["msg_2", "msg_2", "msg_4"]
    one = client.get(f"{BASE}/{sid}/deliveries/2", headers=ADMIN).json
    assert [a["attempt"] for a in one["attempts"]] == [1, 2]

    for not_a_position in (2.5, 1e-42, "3", True):  # not silently truncated to an integer
        refused = client.post(f"{BASE}/{sid}/replay", json={"after": not_a_position},
                              headers=ADMIN)  # fmt: skip
        assert refused.status_code == 422, not_a_position
    replayed = client.post(f"{BASE}/{sid}/replay", json={"after": 0}, headers=ADMIN)
    assert replayed.status_code == 202
    assert replayed.json == {
        "queued": 2, "next_after": 4, "done": True, "status": "active", "message": None
    }  # fmt: skip
    services.deliverer.drain(sid)
    assert sorted(r.webhook_id for r in receiver.wait_for(5)[3:]) == ["msg_2", "msg_4"]

    # a paused subscription's replay says why nothing arrives yet, and what to do
    client.patch(f"{BASE}/{sid}", json={"status": "paused"}, headers=ADMIN)
    held = client.post(f"{BASE}/{sid}/replay", json={"after": 0}, headers=ADMIN).json
    assert held["queued"] == 2 and held["status"] == "paused"
    assert "paused" in held["message"] and '"status": "active"' in held["message"]
    client.patch(f"{BASE}/{sid}", json={"status": "active"}, headers=ADMIN)
    services.deliverer.drain(sid)
    assert sorted(r.webhook_id for r in receiver.wait_for(7)[5:]) == ["msg_2", "msg_4"]
    negative = client.post(f"{BASE}/{sid}/replay", json={"after": -1}, headers=ADMIN)
    assert negative.status_code == 422 and "after" in negative.json["errors"]["json"]

    metrics = client.get("/api/v1/metrics").get_data(as_text=True)
    assert 'timeline_webhook_deliveries{status="delivered"} 2.0' in metrics
    assert 'timeline_webhook_attempts{outcome="2xx"} 7.0' in metrics
    assert 'timeline_webhook_attempts{outcome="error"} 0.0' in metrics


def test_unknown_subscription_is_404_everywhere(client: FlaskClient) -> None:
    missing = f"{BASE}/00000000-0000-4000-8000-000000000000"
    assert client.get(missing, headers=ADMIN).status_code == 404
    assert client.get(f"{missing}/deliveries", headers=ADMIN).status_code == 404
    assert client.post(f"{missing}/replay", json={"after": 0}, headers=ADMIN).status_code == 404
    assert client.post(f"{missing}/secret/rotate", headers=ADMIN).status_code == 404
    assert client.patch(missing, json={"status": "paused"}, headers=ADMIN).status_code == 404

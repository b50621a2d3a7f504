"""Subscription changes record the admin key that made them, like every write to the log."""

from __future__ import annotations

import json
from uuid import UUID

import pytest
from flask.testing import FlaskClient

from tests.conftest import ADMIN_KEY
from tests.stored import drop_by_from_stored_events
from tests.webhooks.receiver import Receiver
from timeline.bootstrap import Services, event_store_env
from timeline.subscriptions import SubscriptionsApp

BASE = "/api/v1/subscriptions"


def test_each_change_names_the_admin_key_behind_it(
    client: FlaskClient, services: Services, receiver: Receiver
) -> None:
    stored_key, record = services.keys.create("ops desk", "admin")
    ops_desk = {"Authorization": f"Bearer {stored_key}"}
    bootstrap = {"Authorization": f"Bearer {ADMIN_KEY}"}
    desk = {"key_id": record["id"], "name": "ops desk"}

    created = client.post(
        BASE, json={"url": receiver.url, "event_types": ["statement.recorded"]}, headers=ops_desk
    ).json
    assert created["created_by"] == created["updated_by"] == desk

    paused = client.patch(f"{BASE}/{created['id']}", json={"status": "paused"}, headers=bootstrap)
    assert paused.json["created_by"] == desk
    assert paused.json["updated_by"]["name"] == "TIMELINE_API_KEYS (admin)"
    assert ADMIN_KEY not in json.dumps(paused.json)

    rotated = client.post(f"{BASE}/{created['id']}/secret/rotate", headers=ops_desk)
    assert rotated.json["updated_by"] == desk

    services.subscriptions.disable(UUID(created["id"]), "the receiver answered 410 Gone")
    shown = client.get(f"{BASE}/{created['id']}", headers=ops_desk).json
    assert shown["status"] == "disabled" and shown["updated_by"] is None  # the service did it


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """Editing a stored event is done on the SQLite file."""
    return str(request.param)


def test_subscriptions_stored_before_keys_were_recorded_still_load(
    services: Services, receiver: Receiver
) -> None:
    fields = {"url": receiver.url, "event_types": ["statement.recorded"]}
    created = services.subscriptions.create(fields, 0)
    services.subscriptions.change(UUID(created["id"]), {"description": "Dashboard"})
    drop_by_from_stored_events(services.settings.subscriptions_path)  # as older code stored them
    fresh = SubscriptionsApp(
        env=event_store_env(services.settings, sqlite_path=services.settings.subscriptions_path)
    )
    loaded = fresh.get(UUID(created["id"]))
    assert loaded["description"] == "Dashboard"
    assert loaded["created_by"] is None and loaded["updated_by"] is None

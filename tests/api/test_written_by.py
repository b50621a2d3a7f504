"""Every write records which API key made it, and the history shows it."""

from __future__ import annotations

import hashlib
import hmac
import json
from uuid import UUID

import pytest
from flask.testing import FlaskClient

from tests.conftest import WRITE_KEY
from tests.factories import a_statement, an_incident, as_json
from tests.stored import drop_by_from_stored_events
from timeline.application import TimelineApp
from timeline.bootstrap import Services, event_store_env
from timeline.projections.history import incident_history


def test_history_names_the_key_behind_each_version(client: FlaskClient, services: Services) -> None:
    stored_key, record = services.keys.create("newsroom importer", "write")
    created = client.post(
        "/api/v1/incidents",
        json=as_json(an_incident()) | {"statements": [as_json(a_statement())]},
        headers={"Authorization": f"Bearer {stored_key}"},
    ).json
    amended = client.patch(
        f"/api/v1/incidents/{created['id']}",
        json={"title": "Strike on Kramatorsk", "reason": "Shorter"},
        headers={"Authorization": f"Bearer {WRITE_KEY}"},
    )
    assert amended.status_code == 200
    services.runner.run_all()

    history = client.get(f"/api/v1/incidents/{created['id']}/history").json["items"]
    by = [version["by"] for version in history]
    assert by[0] == by[1] == {"key_id": record["id"], "name": "newsroom importer"}
    assert by[2]["name"] == "TIMELINE_API_KEYS (write)"
    assert by[2]["key_id"].startswith("env-") and WRITE_KEY not in json.dumps(by)
    # the public id cannot be used to test a guess of the key offline: it is keyed by the
    # service's secret (an unsalted hash of the key named it before)
    unkeyed = hashlib.sha256(WRITE_KEY.encode()).hexdigest()
    assert unkeyed[:12] not in by[2]["key_id"]
    keyed = hmac.new(services.secret_key.encode(), WRITE_KEY.encode(), "sha256").hexdigest()
    assert by[2]["key_id"] == f"env-{keyed[:16]}"
    events = client.get("/api/v1/events?after=0").json["items"]
    assert [e["data"]["by"]["key_id"] for e in events] == [k["key_id"] for k in by]


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """Editing a stored event is done on the SQLite file."""
    return str(request.param)


def test_events_stored_before_keys_were_recorded_still_replay(services: Services) -> None:
    written = services.app.report_incident(an_incident(), statements=[a_statement()])
    drop_by_from_stored_events(services.settings.events_path)  # as older code stored them
    fresh = TimelineApp(env=event_store_env(services.settings))
    incident = fresh.get_incident(UUID(written.incident_id))
    assert len(incident["statements"]) == 1
    services.runner.run_all()
    with services.views.snapshot() as cursor:
        assert [v["by"] for v in incident_history(cursor, written.incident_id)] == [None, None]

"""The live feed: Server-Sent Events from a position, resumed with Last-Event-ID."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from typing import Any

from flask.testing import FlaskClient

from api import create_app
from tests.factories import a_statement, an_incident
from timeline.bootstrap import Services


def frames(client: FlaskClient, **headers: str) -> list[dict[str, Any]]:
    """Read the whole stream (it closes after the test's stream_seconds); parse its events."""
    response = client.get("/api/v1/events/stream", headers=headers)
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    events = []
    for block in response.get_data(as_text=True).split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "id" in fields:
            events.append({"id": int(fields["id"]), **json.loads(fields["data"])})
    return events


def test_the_stream_sends_every_event_with_its_position_as_id(
    client: FlaskClient, services: Services
) -> None:
    services.app.report_incident(an_incident(), statements=[a_statement(), a_statement()])
    events = frames(client)
    assert [e["id"] for e in events] == [1, 2, 3]
    assert [e["position"] for e in events] == [1, 2, 3]
    assert [e["type"] for e in events] == [
        "IncidentReported",
        "StatementRecorded",
        "StatementRecorded",
    ]


def test_a_reconnecting_client_resumes_after_last_event_id(
    client: FlaskClient, services: Services
) -> None:
    services.app.report_incident(an_incident(), statements=[a_statement(), a_statement()])
    assert [e["id"] for e in frames(client, **{"Last-Event-ID": "2"})] == [3]
    assert frames(client, **{"Last-Event-ID": "3"}) == []


def test_events_appended_while_connected_arrive(services: Services) -> None:
    # A stream open for 2 s (not the directory's 0.5 s): the append 0.1 s in must land inside
    # it even on a busy machine (CI once saw it land after the 0.5 s stream had closed).
    longer = replace(services, settings=services.settings.with_changes(stream_seconds=2.0))
    client = create_app(services=longer).test_client()

    def append_soon() -> None:
        time.sleep(0.1)
        services.app.report_incident(an_incident())

    writer = threading.Thread(target=append_soon)
    writer.start()
    events = frames(client)
    writer.join()
    assert [e["type"] for e in events] == ["IncidentReported"]


def test_a_malformed_last_event_id_is_a_422_naming_the_header(client: FlaskClient) -> None:
    response = client.get("/api/v1/events/stream", headers={"Last-Event-ID": "yesterday"})
    assert response.status_code == 422
    assert "Last-Event-ID" in response.json["errors"]["headers"]


def test_a_position_beyond_the_head_is_a_422_not_a_stream_that_waits_for_ever(
    client: FlaskClient, services: Services
) -> None:
    services.app.report_incident(an_incident())
    head = services.app.head()
    response = client.get("/api/v1/events/stream", headers={"Last-Event-ID": str(head + 39)})
    assert response.status_code == 422
    assert f"at most {head}" in response.json["errors"]["headers"]["Last-Event-ID"][0]
    response = client.get(f"/api/v1/events/stream?after={head + 1}")
    assert response.status_code == 422 and "after" in response.json["errors"]["query"]

"""An id that names another kind of record in the event store — a dataset id's claim, a
release, the release catalog, whose ids anyone can compute — is no incident: every endpoint
that takes an incident's id answers 404 for it (it had been loaded anyway: a 500), and a new
incident cannot take it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from flask.testing import FlaskClient

from tests.factories import a_statement, an_incident, as_json
from timeline.bootstrap import Services
from timeline.domain import values
from timeline.domain.external_id import external_id_stream
from timeline.domain.release import CATALOG, release_stream
from timeline.releases import record_release

WHEN = "2023-06-30T00:00:00+00:00"
# Each endpoint that takes an incident's id: method, path after /incidents/{id}, body.
ENDPOINTS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "read": ("GET", "", None),
    "read as of": ("GET", "?as_of=2030-01-01T00:00:00Z", None),
    "read on the stated clock": ("GET", "?as_of=2030-01-01T00:00:00Z&clock=stated", None),
    "history": ("GET", "/history", None),
    "diff": ("GET", "/diff?from=2020-01-01T00:00:00Z", None),
    "amend": ("PATCH", "", {"title": "Renamed", "reason": "A test."}),
    "retire": ("POST", "/retirement", {"reason": "recorded_in_error"}),
    "restore": ("POST", "/restoration", {"reason": "A test."}),
    "record a statement": ("POST", "/statements", as_json(a_statement())),
    "withdraw a statement": (
        "POST", "/statements/1b4e28ba-2fa1-11d2-883f-0016d3cca427/withdrawal",
        {"reason": "A test."},
    ),
}  # fmt: skip


@pytest.fixture
def other_records(services: Services) -> dict[str, UUID]:
    """The id of one record of each other kind the store holds."""
    services.app.apply_batch([{**an_incident(), "external_ids": {"acled": "UKR1"}}])
    record_release(services.app, "acled", WHEN, ["UKR1"])
    records = {
        "a dataset id's claim": external_id_stream("acled", "UKR1"),
        "a release": release_stream("acled", values.stated_at(WHEN)),
        "the release catalog": CATALOG,
    }
    assert all(services.app.recorder.select_events(i, limit=1) for i in records.values())
    return records


def test_every_endpoint_answers_404_for_another_kind_of_record(
    client: FlaskClient, writer: dict[str, str], other_records: dict[str, UUID]
) -> None:
    for endpoint, (method, path, body) in ENDPOINTS.items():
        for kind, record_id in other_records.items():
            answer = client.open(f"/api/v1/incidents/{record_id}{path}", method=method,
                                 json=body, headers=writer)  # fmt: skip
            assert answer.status_code == 404, (endpoint, kind, answer.json)
            assert answer.json["message"], (endpoint, kind)


def test_a_new_incident_cannot_take_another_records_id(
    client: FlaskClient, writer: dict[str, str], other_records: dict[str, UUID],
    services: Services,
) -> None:  # fmt: skip
    head = services.app.head()
    for kind, record_id in other_records.items():
        body = {**as_json(an_incident()), "id": str(record_id)}
        single = client.post("/api/v1/incidents", json=body, headers=writer)
        assert single.status_code == 409, (kind, single.json)
        assert "another kind of record" in single.json["message"]
        batch = client.post("/api/v1/batch", json={"items": [body]}, headers=writer)
        assert batch.status_code == 422, (kind, batch.json)
        assert "is not an incident's id" in batch.json["message"]
    assert services.app.head() == head

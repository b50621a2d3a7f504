"""Idempotency-Key: a retried POST gets the first answer and writes nothing more."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

import pytest
from flask.testing import FlaskClient

from api import create_app
from tests.conftest import ADMIN_KEY
from tests.factories import a_statement, an_incident, as_json
from tests.proxy import Proxy
from timeline.bootstrap import Services
from timeline.config import Settings


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """Kept in Redis; the storage backend does not matter."""
    return str(request.param)


def post(client: FlaskClient, url: str, body: Any, headers: dict[str, str], key: str) -> Any:
    return client.post(url, json=body, headers={**headers, "Idempotency-Key": key})


def test_a_retry_gets_the_first_answer_and_writes_nothing(
    client: FlaskClient, writer: dict[str, str], services: Services
) -> None:
    key = str(uuid4())
    body = as_json(an_incident())
    first = post(client, "/api/v1/incidents", body, writer, key)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    head = services.app.head()

    again = post(client, "/api/v1/incidents", body, writer, key)

    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json and again.headers["Location"] == first.headers["Location"]
    assert services.app.head() == head  # nothing written the second time
    # the same key for another request is refused; a new key writes anew
    other = post(client, "/api/v1/incidents", {**body, "title": "Another"}, writer, key)
    assert other.status_code == 422 and "Idempotency-Key" in other.json["errors"]["headers"]
    assert post(client, "/api/v1/incidents", body, writer, str(uuid4())).status_code == 201
    assert services.app.head() == head + 1


def test_every_post_takes_it_and_each_caller_has_its_own_keys(
    client: FlaskClient, writer: dict[str, str], services: Services
) -> None:
    incident = post(client, "/api/v1/incidents", as_json(an_incident()), writer, "k1").json["id"]
    url = f"/api/v1/incidents/{incident}/statements"
    said = as_json(a_statement())
    assert post(client, url, said, writer, "k2").status_code == 201
    head = services.app.head()
    assert post(client, url, said, writer, "k2").json["id"] == post(client, url, said, writer,
                                                                   "k2").json["id"]  # fmt: skip
    assert services.app.head() == head
    batch = {"items": [as_json(an_incident(title="In a batch"))]}
    assert post(client, "/api/v1/batch", batch, writer, "k3").status_code == 201
    assert post(client, "/api/v1/batch", batch, writer, "k3").status_code == 201
    assert services.app.head() == head + 1
    # another key holder using the same token is another request
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    assert post(client, url, said, admin, "k2").headers.get("Idempotent-Replayed") is None
    assert services.app.head() == head + 2


def test_answers_the_request_did_not_decide_are_not_kept(
    client: FlaskClient, writer: dict[str, str]
) -> None:
    body = as_json(an_incident())
    refused = post(client, "/api/v1/incidents", body, {"Authorization": "Bearer nope"}, "k")
    assert refused.status_code == 401
    assert post(client, "/api/v1/incidents", body, writer, "k").status_code == 201
    invalid = post(client, "/api/v1/incidents", {"title": ""}, writer, "bad-once")
    replayed = post(client, "/api/v1/incidents", {"title": ""}, writer, "bad-once")
    assert invalid.status_code == replayed.status_code == 422  # decided: kept, replayed
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert post(client, "/api/v1/incidents", body, writer, "é" * 3).status_code == 422


def test_with_redis_down_a_keyed_request_is_a_503_and_others_still_write(
    settings: Settings, redis_url: str, writer: dict[str, str], services: Services
) -> None:
    parts = urlsplit(redis_url)
    proxy = Proxy((parts.hostname or "127.0.0.1", parts.port or 6379))
    url = redis_url.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{proxy.port}")
    client = create_app(settings.with_changes(redis_url=url)).test_client()
    proxy.cut()
    body = as_json(an_incident())
    refused = post(client, "/api/v1/incidents", body, writer, "k")
    assert refused.status_code == 503 and refused.headers["Retry-After"]
    assert client.post("/api/v1/incidents", json=body, headers=writer).status_code == 201

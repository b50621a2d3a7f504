"""What a newcomer meets first: the API's front door, a body sent without its content type, an
incident read that says which log position it reflects."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.conftest import ADMIN_KEY
from tests.factories import a_statement, an_incident, as_json
from timeline.bootstrap import Services


def test_the_api_root_answers_links_to_everything(client: FlaskClient) -> None:
    for root in ("/api/v1", "/api/v1/"):
        index = client.get(root)
        assert index.status_code == 200, root
    links = index.json["links"]
    assert {"docs", "openapi", "health", "ready", "timeline", "incidents"} <= set(links)
    assert index.json["dashboard"] == "/"
    for name, path in links.items():
        assert client.get(path).status_code == 200, name
    assert client.get(index.json["dashboard"]).status_code == 200


def test_a_body_without_a_json_content_type_is_415_not_missing_fields(
    client: FlaskClient, writer: dict[str, str], services: Services
) -> None:
    head = services.app.head()
    body = '{"reason": "wrong incident"}'
    for content_type in (None, "application/x-www-form-urlencoded", "text/plain"):
        headers = {**writer, **({"Content-Type": content_type} if content_type else {})}
        sent = client.post("/api/v1/incidents", data=body, headers=headers)
        assert sent.status_code == 415, (content_type, sent.json)
        assert "application/json" in sent.json["message"]
    assert services.app.head() == head
    # a body-less POST is still judged on its fields (reason missing), not its content type
    written = services.app.report_incident(an_incident())
    empty = client.post(f"/api/v1/incidents/{written.incident_id}/retirement", headers=writer)
    assert empty.status_code == 422 and "reason" in empty.json["errors"]["json"]
    # and one whose fields are all optional is refused, not taken for "change nothing"
    bare = client.patch("/api/v1/subscriptions/00000000-0000-4000-8000-000000000000",
                        headers={"Authorization": f"Bearer {ADMIN_KEY}"})  # fmt: skip
    assert bare.status_code == 422 and "body is required" in bare.json["errors"]["json"][0]


def test_an_incident_read_names_the_log_position_it_reflects(
    client: FlaskClient, services: Services
) -> None:
    written = services.app.report_incident(an_incident(), statements=[a_statement()])
    url = f"/api/v1/incidents/{written.incident_id}"
    read = client.get(url)
    assert read.json["position"] == services.app.head() == written.position
    assert read.headers["X-Projection-Position"] == str(read.json["position"])
    other = services.app.report_incident(as_json(an_incident()) | {"title": "Another"})
    assert client.get(url).json["position"] == other.position  # the log moved on

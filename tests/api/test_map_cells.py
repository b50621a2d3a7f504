"""GET /api/v1/map/cells: the matching incidents counted per cell of a zoom level's grid."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.factories import an_incident
from timeline.bootstrap import Services

KRAMATORSK = {"name": "Kramatorsk", "country": "UA", "lat": 48.72, "lon": 37.56}
KHARKIV = {"name": "Kharkiv", "country": "UA", "lat": 49.99, "lon": 36.23}


def cells(client: FlaskClient, **query: object) -> dict:
    answer = client.get("/api/v1/map/cells", query_string=query)
    assert answer.status_code == 200, answer.json
    return dict(answer.json)


def test_incidents_are_counted_per_cell_of_the_zoom_level(
    services: Services, client: FlaskClient
) -> None:
    for _ in range(3):
        services.app.report_incident(an_incident(location=KRAMATORSK))
    only = services.app.report_incident(an_incident(kind="shelling", location=KHARKIV))
    services.app.report_incident(an_incident(location=None))  # (no place: not on a map)
    services.runner.run_all()
    world = cells(client, zoom=0)
    assert [c["count"] for c in world["items"]] == [4] and world["degrees"] == 45
    assert abs(world["items"][0]["lat"] - (3 * 48.72 + 49.99) / 4) < 1e-9
    town = cells(client, zoom=8)
    assert sorted(c["count"] for c in town["items"]) == [1, 3]
    (alone,) = [c for c in town["items"] if c["count"] == 1]
    assert alone["incident_id"] == only.incident_id  # a cell of one names it
    assert cells(client, zoom=8, kind="shelling")["items"] == [alone]
    # the current pictures alone, or joined with the timeline's items (a time filter): the same
    joined = cells(client, zoom=8, **{"from": "2000-01-01T00:00:00Z"})
    assert joined["items"] == town["items"]
    east = cells(client, zoom=8, bbox="37,48,38,49")["items"]
    assert [c["count"] for c in east] == [3]
    assert world["citation"]["position"] == world["position"]
    assert client.get("/api/v1/map/cells").status_code == 422  # the zoom is required
    assert client.get("/api/v1/map/cells", query_string={"zoom": 19}).status_code == 422

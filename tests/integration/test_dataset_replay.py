"""A living dataset replayed on its own clock.

Four snapshots of the same ACLED-layout file (rows added, edited, removed, re-added, an id
reused for another event) are loaded through /batch, each dated by its snapshot (``stated_at``),
rows that vanished retired. Then, for every snapshot date D, the timeline as published by D
lists exactly the rows of D, each incident's fields equal to its row — whether the snapshots
were loaded in their order or in reverse.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.datasets import ACLED_SNAPSHOTS, acled_incident, acled_item, read_snapshot
from timeline.bootstrap import Services

SNAPSHOTS = [(path.stem + "T00:00:00Z", read_snapshot(path)) for path in ACLED_SNAPSHOTS]
FIELDS = ("title", "kind", "occurred", "location", "actors", "tags", "properties", "external_ids")


def load(client: FlaskClient, writer: dict[str, str], order: list[int]) -> list[int]:
    """Load the snapshots in the given order. Rows are dated by their snapshot; a row gone
    from the next snapshot loaded so far is retired as of that one, and a row of the previous
    one gone from this one is retired as of this one (so the order does not matter)."""
    loaded: dict[str, set[str]] = {}
    statuses = []
    for index in order:
        stated_at, rows = SNAPSHOTS[index]
        ids = {row["event_id_cnty"] for row in rows}
        before = max((d for d in loaded if d < stated_at), default=None)
        after = min((d for d in loaded if d > stated_at), default=None)
        gone = {stated_at: loaded[before] - ids if before else set()}
        gone[after or ""] = ids - loaded[after] if after else set()
        items: list[dict[str, Any]] = [acled_item(row) for row in rows]
        items += [
            {"external_ids": {"acled": row_id}, "stated_at": when,
             "retire": {"reason": "removed_by_source"}}
            for when, row_ids in gone.items()
            for row_id in sorted(row_ids)
        ]  # fmt: skip
        loaded[stated_at] = ids
        answer = client.post(
            "/api/v1/batch", json={"items": items, "stated_at": stated_at}, headers=writer
        )
        assert answer.status_code in (200, 201), answer.json
        statuses.append(answer.status_code)
    return statuses


def published_by(client: FlaskClient, when: str, **more: str) -> dict[str, dict[str, Any]]:
    """Every incident on the timeline as published by ``when``, by its ACLED id."""
    query = {"type": "incident", "as_of": when, "clock": "stated", "limit": "1000", **more}
    page = client.get("/api/v1/timeline", query_string=query).json
    assert page["next_cursor"] is None
    return {item["incident"]["external_ids"]["acled"]: item["incident"] for item in page["items"]}


def assert_each_snapshot_replays(client: FlaskClient) -> None:
    for stated_at, rows in SNAPSHOTS:
        shown = published_by(client, stated_at)
        assert sorted(shown) == sorted(row["event_id_cnty"] for row in rows), stated_at
        for row in rows:
            incident = shown[row["event_id_cnty"]]
            assert {k: incident[k] for k in FIELDS} == acled_incident(row), row["event_id_cnty"]
    before_any = published_by(client, "2022-03-14T23:59:59Z")
    assert before_any == {}


@pytest.mark.parametrize("order", [[0, 1, 2, 3], [3, 2, 1, 0]], ids=["forward", "reverse"])
def test_every_snapshot_replays_on_the_stated_clock(
    client: FlaskClient, writer: dict[str, str], services: Services, order: list[int]
) -> None:
    assert load(client, writer, order) == [201] * 4
    services.runner.run_all()
    assert_each_snapshot_replays(client)
    # Now (no as_of) is the latest release, whatever order the releases came in.
    latest = {r["event_id_cnty"] for r in SNAPSHOTS[-1][1]}
    now = client.get("/api/v1/incidents", query_string={"limit": "1000"}).json["items"]
    assert {i["external_ids"]["acled"] for i in now} == latest
    # Re-sending every snapshot writes nothing.
    head = services.app.head()
    assert load(client, writer, order) == [200] * 4  # 200: nothing written
    assert services.app.head() == head


def test_a_reused_id_reads_as_each_release_said(
    client: FlaskClient, writer: dict[str, str], services: Services
) -> None:
    load(client, writer, [0, 1, 2, 3])
    services.runner.run_all()
    incident_id = services.app.incident_by_external_id("acled", "UKR1020")
    url = f"/api/v1/incidents/{incident_id}"
    titles = {
        stated_at: client.get(url, query_string={"as_of": stated_at, "clock": "stated"}).json[
            "title"
        ]
        for stated_at, _ in SNAPSHOTS
    }
    by_release = {
        s: next(r for r in rows if r["event_id_cnty"] == "UKR1020") for s, rows in SNAPSHOTS
    }
    assert titles == {s: acled_incident(row)["title"] for s, row in by_release.items()}
    assert len(set(titles.values())) == 2  # the id named another event from the third release
    diff = client.get(
        f"{url}/diff",
        query_string={"from": SNAPSHOTS[1][0], "to": SNAPSHOTS[2][0], "clock": "stated"},
    ).json
    assert set(diff["fields_amended"]) >= {"title", "occurred", "location"}


def test_a_removed_row_is_retired_and_as_of_before_still_shows_it(
    client: FlaskClient, writer: dict[str, str], services: Services
) -> None:
    load(client, writer, [0, 1])
    services.runner.run_all()
    incident_id = services.app.incident_by_external_id("acled", "UKR1011")
    incident = client.get(f"/api/v1/incidents/{incident_id}").json
    assert incident["retired"]["reason"] == "removed_by_source"
    assert incident["retired"]["stated_at"] == "2022-04-15T00:00:00.000000+00:00"
    assert "UKR1011" not in published_by(client, SNAPSHOTS[1][0])
    assert "UKR1011" in published_by(client, SNAPSHOTS[0][0])
    assert "UKR1011" in published_by(client, SNAPSHOTS[1][0], retired="true")
    listed = client.get("/api/v1/incidents", query_string={"limit": "1000"}).json["items"]
    assert incident_id not in {i["id"] for i in listed}
    history = client.get(f"/api/v1/incidents/{incident_id}/history").json["items"]
    assert [v["type"] for v in history] == ["IncidentReported", "IncidentRetired"]
    assert history[1]["stated_at"] == "2022-04-15T00:00:00.000000+00:00"
    assert history[1]["summary"] == "Retired (removed by source)"
    published = client.get(
        f"/api/v1/incidents/{incident_id}/history",
        query_string={"as_of": "2022-04-01T00:00:00Z", "clock": "stated"},
    ).json["items"]
    assert [v["type"] for v in published] == ["IncidentReported"]

"""Events and snapshots stored in an older shape still load and replay identically.

Stored events never change: when an event's shape grows, an upcaster brings old ones to the new
shape as they are read. Here the rows are edited back to the shape older code wrote (no citation
``reference``, no ``class_version``), as a database from before the change would hold them.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from tests.factories import a_statement, an_incident
from tests.integration.helpers import table_rows
from tests.stored import as_first_shapes, with_country_names
from timeline.application import TimelineApp
from timeline.bootstrap import Services, event_store_env
from timeline.event_log import read_log
from timeline.projections.framework import rebuild

CITED = [{"url": "https://example.org/report", "outlet": "Example", "published_at": None}]


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """Editing stored rows is done on the SQLite file."""
    return str(request.param)


def read_models(services: Services) -> dict[str, list[dict[str, Any]]]:
    """Every read model's rows but the ledger's: the ledger hashes the stored bytes, which
    this test edits (and so must, and does, change — that is what it is for)."""
    tables = [
        table
        for p in services.projections.values()
        if p.rebuildable and p.name != "ledger"
        for table in p.tables
    ]
    return {table: table_rows(services.views, table) for table in tables}


def test_events_and_snapshots_stored_in_their_first_shapes_replay_identically(
    services: Services,
) -> None:
    app = services.app
    # 1 report + 199 statements = version 200: a snapshot is taken (every 200 events)
    written = app.report_incident(
        an_incident(), statements=[a_statement(citations=CITED) for _ in range(199)]
    )
    incident_id = UUID(written.incident_id)
    app.record_statement(incident_id, a_statement(citations=CITED))
    moved = {"name": "Kramatorsk station", "country": "UA", "lat": 48.74, "lon": 37.58}
    app.amend_incident(incident_id, {"location": moved}, "the station, not the centre")
    app.amend_incident(incident_id, {"actors": ["RU"]}, "one side struck")
    services.runner.run_all()
    current = app.get_incident(incident_id)
    projected = read_models(services)
    log = [entry.to_dict() for entry in read_log(app, 0, 1000)]

    # every event (the report, 200 statements, two amendments) and the snapshot
    assert as_first_shapes(services.settings.events_path) == 1 + 200 + 2 + 1
    fresh = TimelineApp(env=event_store_env(services.settings))  # no cache: reads the rows
    try:
        assert fresh.snapshots is not None
        assert fresh.snapshots.get(incident_id) is not None, "the test needs a snapshot"
        assert fresh.get_incident(incident_id) == current
        assert [entry.to_dict() for entry in read_log(fresh, 0, 1000)] == log
        citation = current["statements"][0]["citations"][0]
        assert citation == {**CITED[0], "reference": None}
        assert current["location"]["admin2"] is None and current["properties"] == {}
        assert current["actors"] == [{"name": "RU", "side": "RU", "type": None, "code": None}]
    finally:
        fresh.close()
    read = [p for p in services.projections.values() if p.rebuildable]
    rebuild(app, services.views, read)
    assert read_models(services) == projected


def test_countries_stored_as_names_read_back_as_codes_with_their_names(
    services: Services,
) -> None:
    app = services.app
    place = {"name": "Kherson", "country": "UA"}
    written = app.report_incident(an_incident(location=place))
    incident_id = UUID(written.incident_id)
    moved = {"name": "Belgorod", "country": "RU"}
    app.amend_incident(incident_id, {"location": moved}, "across the border")
    names = {"UA": "Ukraine", "RU": "Russia (Soviet Union)"}  # as ACLED and UCDP GED say them
    assert with_country_names(services.settings.events_path, names) == 2
    fresh = TimelineApp(env=event_store_env(services.settings))
    try:
        first = fresh.repository.get(incident_id, version=1).location
        assert (first["country"], first["country_name"]) == ("UA", "Ukraine")
        now = fresh.get_incident(incident_id)["location"]
        assert (now["country"], now["country_name"]) == ("RU", "Russia (Soviet Union)")
    finally:
        fresh.close()

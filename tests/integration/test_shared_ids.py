"""Client-chosen ids are unique per incident only: no projection may assume more.

Found by schemathesis: a statement given its incident's own id, later withdrawn, closed the
incident's timeline row too, and the next amendment stopped the projection for good.
"""

from __future__ import annotations

import json
from uuid import UUID, uuid4

from tests.factories import a_statement, an_incident
from tests.integration.helpers import table_rows
from timeline.bootstrap import Services
from timeline.projections.timeline import TimelineFilter


def catch_up_all(services: Services) -> None:
    for name in services.projections:
        services.runner.run(name)


def test_one_statement_id_in_two_incidents(services: Services) -> None:
    shared = str(uuid4())
    first = services.app.report_incident(
        an_incident(), statements=[{**a_statement(), "id": shared}]
    )
    second = services.app.report_incident(
        an_incident(), statements=[{**a_statement(), "id": shared}]
    )
    services.app.withdraw_statement(UUID(first.incident_id), shared, "duplicate")
    catch_up_all(services)
    assert all(s.lag == 0 for s in services.runner.status())
    live = [
        r
        for r in table_rows(services.views, "timeline_items")
        if r["item_type"] == "statement" and r["sys_to_pos"] is None
    ]
    assert [r["incident_id"] for r in live] == [second.incident_id]


def test_a_statement_with_its_incidents_id_can_be_withdrawn(services: Services) -> None:
    incident_id = uuid4()
    services.app.report_incident(
        an_incident(),
        incident_id=incident_id,
        statements=[{**a_statement(), "id": str(incident_id)}],
    )
    services.app.withdraw_statement(incident_id, str(incident_id), "mis-recorded")
    services.app.amend_incident(incident_id, {"title": "Still here"}, "after the withdrawal")
    catch_up_all(services)
    assert all(s.lag == 0 for s in services.runner.status())
    page = services.reads.timeline(TimelineFilter(), None, 10)
    items = [json.loads(row["item"]) for row in page.items]
    assert [(i["type"], i["incident"]["title"]) for i in items] == [("incident", "Still here")]

"""Reading many streams in one query gives what the library reads one stream at a time."""

from __future__ import annotations

from uuid import UUID, uuid4

from tests.factories import a_statement, an_incident
from timeline.bootstrap import Services
from timeline.stream_reads import PER_QUERY, select_streams


def test_many_streams_read_at_once_equal_each_read_alone(services: Services) -> None:
    app = services.app
    ids = [UUID(app.report_incident(an_incident()).incident_id) for _ in range(PER_QUERY + 20)]
    for incident_id in ids[:3]:  # some streams longer than others
        app.record_statement(incident_id, a_statement())
    never_written = uuid4()

    found = select_streams(app.recorder, [*ids, never_written, ids[0]])

    assert set(found) == set(ids)  # every stream once; one with no events is left out
    for incident_id in ids:
        assert found[incident_id] == list(app.recorder.select_events(incident_id))


def test_a_batch_naming_more_incidents_than_one_query_holds_finds_every_one(
    services: Services,
) -> None:
    app = services.app
    count = PER_QUERY + 20
    items = [an_incident(external_ids={"acled": f"UKR{n}"}) for n in range(count)]
    reported = app.apply_batch(items)
    head = app.head()

    again = app.apply_batch(items)  # by external id: every one found, nothing written
    by_id = app.apply_batch([{"id": w.incident_id, "statements": []} for w in reported])

    assert [w.incident_id for w in again] == [w.incident_id for w in reported]
    assert {w.outcome for w in again} == {"unchanged"}
    assert [w.incident_id for w in by_id] == [w.incident_id for w in reported]
    assert app.head() == head

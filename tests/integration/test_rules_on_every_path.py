"""Every rule holds on every write path: a single report, /batch's all-or-nothing chunk, and
the bulk writer leaving refused items out (imports) or holding the chunk (imports that stop).

Each refusal is refused on each path, naming the same field; each flag a source may earn is
set on each path that records a source as published (and those that flag on every write, on
the single path too). Nothing bypasses a rule by going in bulk."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest

from tests.factories import T0, a_statement, an_incident
from timeline.bootstrap import Services
from timeline.bulk import BulkWriter, Options
from timeline.domain import InvalidValue

REFUSALS = {
    "no title": ({"title": ""}, [], "title"),
    "unknown kind": ({"kind": "teleport"}, [], "kind"),
    "no start": ({"occurred": {"start": "sometime"}}, [], "occurred.start"),
    "latitude beyond 90": (
        {"location": {"name": "X", "country": "UA", "lat": 123.0, "lon": 37.0}}, [],
        "location.lat",
    ),
    "unknown country": ({"location": {"name": "X", "country": "Atlantis"}}, [],
                        "location.country"),
    "a statement's unknown stance": ({}, [{"stance": "shout"}], "statements.0.stance"),
    "a statement without text": ({}, [{"text": None}], "statements.0.text"),
    "a figure's metric not a word": (
        {}, [{"figures": [{"metric": "Killed!", "value": 3}]}], "statements.0.figures.0.metric",
    ),
    "a figure's value not a number": (
        {}, [{"figures": [{"metric": "killed", "value": "many"}]}],
        "statements.0.figures.0.value",
    ),
}  # fmt: skip

GED_LIKE = {"metric": "killed", "value": 12, "low": 14, "high": 20}
# Where a source broke its own rules: refused from an analyst, flagged as published.
BREACHES = {
    "best_outside_range": ({}, [{"figures": [GED_LIKE]}], "figures.0.low"),
    "low_above_high": ({}, [{"figures": [{**GED_LIKE, "low": 30}]}], "figures.0.low"),
    "end_before_start": (
        {"occurred": {"start": "2022-03-05", "end": "2022-03-04"}}, [], "occurred.end",
    ),
    "unnamed_place": (
        {"location": {"admin1": "Donetsk Oblast", "country": "UA", "lat": 48.0, "lon": 37.8}},
        [], "location.name",
    ),
    "stated_in_future": ({}, [{"stated_at": "2999-01-01T00:00:00Z"}], "stated_at"),
}  # fmt: skip
# Flagged on every write, an analyst's too (they may know better): refused by none.
ALWAYS_FLAGGED = {
    "null_island": (
        {"location": {"name": "Kramatorsk", "country": "UA", "lat": 0, "lon": 0}},
        "location.lat",
    ),
    "outside_country": (
        {"location": {"name": "Kramatorsk", "country": "UA", "lat": 48.86, "lon": 2.35}},
        "location.lat",
    ),
    "occurred_in_future": ({"occurred": {"start": "2999-01-01"}}, "occurred.start"),
}


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """The rules are the domain's, whatever the store: the whole matrix on SQLite (CI's time
    budget), a sample of it on PostgreSQL below."""
    return str(request.param)


def an_item(fields: dict[str, Any], statements: list[dict[str, Any]]) -> dict[str, Any]:
    """A batch item: a plausible incident with these fields and statements, a dataset id."""
    said = [{**a_statement(stated_at=T0), **s} for s in statements]
    return {**an_incident(**fields), "external_ids": {"monitor": str(uuid4())},
            "statements": said}  # fmt: skip


def refusal(services: Services, path: str, item: dict[str, Any]) -> str:
    """The field the path refuses the item for (it writes nothing of it)."""
    app, head = services.app, services.app.head()
    good = an_item({}, [])
    if path == "single":
        fields = {k: v for k, v in item.items() if k != "statements"}
        with pytest.raises(InvalidValue) as refused:
            app.report_incident(fields, statements=item["statements"])
        where = refused.value.field or ""
    elif path == "batch":
        with pytest.raises(InvalidValue) as refused:
            app.apply_batch([good, item])
        assert (refused.value.field or "").startswith("items.1.")
        where = (refused.value.field or "").removeprefix("items.1.")
    else:  # the bulk writer as imports use it: skip the item, or hold the chunk
        done = BulkWriter(app).write([good, item, an_item({}, [])], Options(), path)
        (only,) = done.refused
        assert only.index == 1
        assert [i for i, _ in done.written] == ([0, 2] if path == "skip" else [])
        assert app.head() == head + (4 if path == "skip" else 0)  # each report and claim
        return only.error.field or ""
    assert app.head() == head
    return where


@pytest.mark.parametrize("path", ["single", "batch", "skip", "hold"])
@pytest.mark.parametrize("case", list(REFUSALS))
def test_each_refusal_is_refused_on_every_path(services: Services, path: str, case: str) -> None:
    fields, statements, field = REFUSALS[case]
    assert refusal(services, path, an_item(fields, statements)) == field


@pytest.mark.parametrize("backend", ["postgres"])
@pytest.mark.parametrize("path", ["batch", "skip", "hold"])
def test_the_bulk_paths_refuse_alike_on_postgresql(services: Services, path: str) -> None:
    for case in ("unknown country", "a statement's unknown stance"):
        fields, statements, field = REFUSALS[case]
        assert refusal(services, path, an_item(fields, statements)) == field


@pytest.mark.parametrize("path", ["single", "batch", "skip"])
@pytest.mark.parametrize("code", list(BREACHES))
def test_a_breach_is_refused_from_an_analyst_on_every_path(
    services: Services, path: str, code: str
) -> None:
    fields, statements, field = BREACHES[code]
    where = refusal(services, path, an_item(fields, statements))
    assert where.endswith(field)


def flags_of(services: Services, incident_id: str) -> list[tuple[str, str]]:
    shown = services.app.get_incident(UUID(incident_id))
    found = shown["flags"] + [f for s in shown["statements"] for f in s["flags"]]
    return [(f["code"], f["field"]) for f in found]


@pytest.mark.parametrize("path", ["batch", "skip"])
@pytest.mark.parametrize("code", list(BREACHES))
def test_a_breach_is_flagged_as_published_on_every_bulk_path(
    services: Services, path: str, code: str
) -> None:
    fields, statements, field = BREACHES[code]
    item = an_item(fields, statements)
    if path == "batch":
        (written,) = services.app.apply_batch([item], as_published=True)
    else:
        done = BulkWriter(services.app).write([item], Options(as_published=True), "skip")
        assert not done.refused
        ((_, written),) = done.written
    assert code in written.flags
    assert flags_of(services, written.incident_id) == [(code, field)]


@pytest.mark.parametrize("path", ["single", "batch", "skip"])
@pytest.mark.parametrize("code", list(ALWAYS_FLAGGED))
def test_suspect_values_are_flagged_on_every_path(services: Services, path: str, code: str) -> None:
    fields, field = ALWAYS_FLAGGED[code]
    item = an_item(fields, [])
    if path == "single":
        written = services.app.report_incident({k: v for k, v in item.items()
                                                if k != "statements"})  # fmt: skip
    elif path == "batch":
        (written,) = services.app.apply_batch([item])
    else:
        ((_, written),) = BulkWriter(services.app).write([item], Options(), "skip").written
    assert flags_of(services, written.incident_id) == [(code, field)]


def test_a_statement_refused_after_its_item_changed_the_chunk_leaves_the_others_whole(
    services: Services,
) -> None:
    # The second statement answers one that is not there: found only once the first is
    # recorded, so the chunk is worked out again without the item.
    answering = a_statement(stance="denial", responds_to=str(uuid4()), stated_at=T0)
    item = an_item({}, [{}]) | {"statements": [a_statement(stated_at=T0), answering]}
    done = BulkWriter(services.app).write([an_item({}, []), item, an_item({}, [])], Options(),
                                          "skip")  # fmt: skip
    assert [(r.index, r.error.field) for r in done.refused] == [(1, "statements.1.responds_to")]
    assert [i for i, _ in done.written] == [0, 2]
    assert services.app.head() == 4  # two reports and their claims

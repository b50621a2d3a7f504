"""The diff between two views of an incident (pure functions, no I/O)."""

from __future__ import annotations

from typing import Any

from timeline.diff import figure_ranges, incident_diff


def view(version: int, statements: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    base = {
        "id": "i",
        "version": version,
        "title": "Strike",
        "kind": "strike",
        "occurred": {"start": "t"},
        "location": None,
        "actors": [],
        "tags": [],
        "properties": {},
        "external_ids": {},
    }
    return {**base, **fields, "statements": statements}


def statement(sid: str, *figures: dict[str, Any], withdrawn: bool = False) -> dict[str, Any]:
    return {
        "id": sid,
        "figures": list(figures),
        "withdrawn": {"reason": "x"} if withdrawn else None,
    }


def figure(
    value: int,
    low: int | None = None,
    high: int | None = None,
    metric: str = "killed",
    subject: str | None = "UA",
) -> dict[str, Any]:
    return {"metric": metric, "value": value, "low": low, "high": high, "subject": subject}


def test_ranges_span_every_live_statement_and_skip_withdrawn_ones() -> None:
    ranges = figure_ranges(
        view(
            3,
            [
                statement("a", figure(600)),
                statement("b", figure(0)),
                statement("c", figure(10_000), withdrawn=True),
                statement("d", figure(50, low=40, high=70, subject=None)),
            ],
        )
    )
    assert ranges[("killed", "UA")] == {"low": 0, "high": 600, "statements": 2}
    assert ranges[("killed", None)] == {"low": 40, "high": 70, "statements": 1}


def test_diff_names_what_arrived_what_was_withdrawn_and_what_moved() -> None:
    before = view(2, [statement("claim", figure(600))])
    after = view(
        5,
        [statement("claim", figure(600), withdrawn=True), statement("mayor", figure(0))],
        title="Missile strike",
    )
    diff = incident_diff(before, after)
    assert [s["id"] for s in diff["statements_added"]] == ["mayor"]
    assert [s["id"] for s in diff["statements_withdrawn"]] == ["claim"]
    assert diff["fields_amended"] == {"title": {"from": "Strike", "to": "Missile strike"}}
    assert diff["figures_changed"] == [
        {
            "metric": "killed",
            "subject": "UA",
            "from": {"low": 600, "high": 600, "statements": 1},
            "to": {"low": 0, "high": 0, "statements": 1},
        }
    ]
    assert (diff["from_version"], diff["to_version"]) == (2, 5)


def test_a_diff_from_before_the_incident_existed_adds_everything() -> None:
    after = view(2, [statement("claim", figure(600))])
    diff = incident_diff(None, after)
    assert diff["from_version"] == 0
    assert [s["id"] for s in diff["statements_added"]] == ["claim"]
    assert diff["fields_amended"] == {}
    assert diff["figures_changed"][0]["from"] is None


def test_no_change_is_an_empty_diff() -> None:
    same = view(2, [statement("claim", figure(600))])
    diff = incident_diff(same, same)
    assert diff["statements_added"] == diff["statements_withdrawn"] == []
    assert diff["fields_amended"] == {} and diff["figures_changed"] == []

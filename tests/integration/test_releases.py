"""Releases as events: four snapshots of a monitor's sheet (rows added, edited, removed,
re-added, an id reused for another event, rows without a town), each imported as a whole
release (`timeline import csv … --stated-at T --retire-missing`) in every one of the 24
orders. On every snapshot's date the timeline (stated clock) must list exactly that snapshot's
rows, each as that snapshot gives it — whatever order the releases came in."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from api import create_app
from cli import main
from tests.datasets import FIXTURES
from timeline.bootstrap import Services
from timeline.config import Settings
from timeline.domain.quality import Findings
from timeline.domain.values import STORED_FIELDS, incident_fields, stated_at
from timeline.importing import mapped
from timeline.releases import standing_at

SNAPSHOTS = sorted((FIXTURES / "monitor_snapshots").glob("*.csv"))
MAPPING = FIXTURES / "monitor_snapshots" / "monitor.toml"
TIMES = [f"{path.stem}T00:00:00Z" for path in SNAPSHOTS]


def release(path: Path, when: str) -> dict[str, dict[str, Any]]:
    """What a snapshot says, by id: its rows as the domain stores them (as published)."""
    rows = mapped.read(path, when, mapping=mapped.load_mapping(MAPPING))
    expected = {}
    for parsed in rows:
        assert parsed.item is not None, parsed.problems
        findings = Findings(as_published=True, release=stated_at(when))
        fields = {k: v for k, v in parsed.item.items() if k in STORED_FIELDS}
        expected[str(parsed.external_id)] = incident_fields(fields, findings=findings)
    return expected


EXPECTED = [release(path, when) for path, when in zip(SNAPSHOTS, TIMES, strict=True)]


def load(order: tuple[int, ...]) -> list[str]:
    """Import the snapshots in this order, each as a whole release; the CLI's outputs."""
    outputs = []
    for index in order:
        result = CliRunner().invoke(main, [
            "import", "csv", str(SNAPSHOTS[index]), "--mapping", str(MAPPING),
            "--stated-at", TIMES[index], "--retire-missing", "--no-catch-up",
        ], catch_exceptions=False)  # fmt: skip
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    return outputs


def published_by(services: Services, when: str) -> dict[str, dict[str, Any]]:
    """Each incident of the namespace as published by ``when`` (stated clock), by its id, as
    replayed from the event store (the read models are checked apart)."""
    everyone = sorted(set().union(*EXPECTED))
    standing = {
        value: standing_at(pictures, stated_at(when))
        for value, pictures in services.app.pictures_of("monitor", everyone).items()
    }
    return {v: p.fields for v, p in standing.items() if p is not None and p.retired is None}


# On PostgreSQL, a sample of the orders in CI (its budget): forward, reverse, and orders that
# load a middle release last or first. All 24 pass there too (TIMELINE_TEST_ALL_ORDERS=1).
SAMPLED = {(0, 1, 2, 3), (3, 2, 1, 0), (0, 2, 3, 1), (3, 0, 2, 1), (1, 3, 0, 2), (2, 0, 3, 1)}
ALL_ORDERS = os.environ.get("TIMELINE_TEST_ALL_ORDERS", "") == "1"


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))), ids=str)
def test_any_load_order_replays_each_release_on_its_date(
    cli_env: Settings, services: Services, order: tuple[int, ...]
) -> None:
    if services.settings.database_url and order not in SAMPLED and not ALL_ORDERS:
        pytest.skip("PostgreSQL: a sample of the 24 orders (TIMELINE_TEST_ALL_ORDERS=1: all)")
    load(order)
    for when, expected in zip(TIMES, EXPECTED, strict=True):
        shown = published_by(services, when)
        assert sorted(shown) == sorted(expected), (when, order)
        for value, fields in expected.items():
            assert shown[value] == fields, (when, value, order)
    before_any = published_by(services, "2023-01-14T00:00:00Z")
    assert before_any == {}
    # The read models say the same (the timeline's stated clock), and the catalog lists them
    services.runner.run_all()
    client: FlaskClient = create_app(services=services).test_client()
    for when, expected in zip(TIMES, EXPECTED, strict=True):
        query = {"as_of": when, "clock": "stated", "namespace": "monitor", "limit": "100"}
        page = client.get("/api/v1/incidents", query_string=query).json
        assert sorted(i["external_ids"]["monitor"] for i in page["items"]) == sorted(expected)
    releases = client.get("/api/v1/releases").json["items"]
    assert [(r["stated_at"][:10], r["rows"], r["added"], r["removed"]) for r in releases] == [
        ("2023-01-15", 4, 4, 0), ("2023-02-15", 4, 1, 1), ("2023-03-15", 5, 2, 1),
        ("2023-04-15", 5, 1, 1),
    ]  # fmt: skip
    assert [r["changed"] for r in releases] == [0, 0, 1, 1]  # MON-003 named; MON-005 reused


def test_a_release_again_is_nothing_new_and_another_list_for_its_time_is_refused(
    cli_env: Settings, services: Services, tmp_path: Path
) -> None:
    (first,) = load((0,))
    assert "4 id(s) listed, recorded" in first
    head = services.app.head()
    (again,) = load((0,))
    assert "recorded before" in again and "4 unchanged" in again
    assert services.app.head() == head
    other = tmp_path / "other.csv"
    other.write_text("".join(SNAPSHOTS[0].read_text().splitlines(keepends=True)[:3]))
    refused = CliRunner().invoke(main, [
        "import", "csv", str(other), "--mapping", str(MAPPING), "--stated-at", TIMES[0],
        "--retire-missing"], catch_exceptions=False)  # fmt: skip
    assert refused.exit_code == 1 and "recorded already" in refused.output, refused.output


def test_history_says_which_releases_listed_an_incident(
    cli_env: Settings, services: Services
) -> None:
    load((3, 0, 2, 1))
    services.runner.run_all()
    incident_id = services.app.incident_by_external_id("monitor", "MON-004")
    client = create_app(services=services).test_client()
    history = client.get(f"/api/v1/incidents/{incident_id}/history").json["items"]
    by_time = {v["stated_at"][:10]: v for v in history}
    # listed in the first, third and fourth releases; left out of the second
    assert sorted(by_time) == ["2023-01-15", "2023-02-15", "2023-03-15", "2023-04-15"]
    assert by_time["2023-02-15"]["type"] == "IncidentRetired"
    assert {by_time[d]["type"] for d in ("2023-03-15",)} <= {"IncidentRestored", "IncidentAmended"}


def test_a_late_release_writes_one_retirement_where_one_stands_for_later_releases_too(
    cli_env: Settings, services: Services
) -> None:
    outputs = load((2, 3, 0, 1))  # MON-002 first appears with the oldest release, loaded third
    released = [line for out in outputs for line in out.splitlines() if "id(s) listed" in line]
    assert [line.split(": ", 1)[1] for line in released] == [
        "5 id(s) listed, recorded",
        "5 id(s) listed, recorded; 1 retired",  # MON-003, as of April
        "4 id(s) listed, recorded; 1 retired",  # MON-002, as of March (and so in April)
        "4 id(s) listed, recorded; 1 retired",  # MON-004, as of February
    ]
    services.runner.run_all()
    incident_id = services.app.incident_by_external_id("monitor", "MON-002")
    client = create_app(services=services).test_client()
    history = client.get(f"/api/v1/incidents/{incident_id}/history").json["items"]
    retirements = [v["stated_at"][:10] for v in history if v["type"] == "IncidentRetired"]
    assert retirements == ["2023-03-15"]  # it stands for the April release as well


def test_the_writes_of_a_release_split_across_transactions_still_replay(
    cli_env: Settings, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("timeline.releases.WRITES_PER_BATCH", 1)  # as a large release does
    load((3, 0, 2, 1))
    for when, expected in zip(TIMES, EXPECTED, strict=True):
        assert published_by(services, when) == expected, when

"""What changed between two moments: the monitor's four releases (tests/fixtures/
monitor_snapshots: rows added, edited, removed, re-added, an id reused for another event)
compared release by release on the stated clock, and the recorded clock beside them."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from cli import main
from tests.integration.test_releases import MAPPING, SNAPSHOTS, TIMES
from timeline.bootstrap import Services
from timeline.config import Settings

# What each release changed, by dataset id (read off the four files).
EXPECTED = [
    {"MON-001": "changed", "MON-004": "retired", "MON-005": "added"},
    {"MON-002": "retired", "MON-003": "changed", "MON-004": "restored", "MON-006": "added"},
    {"MON-003": "retired", "MON-005": "changed", "MON-007": "added"},  # MON-006 as it was
]


@pytest.fixture
def released(store: Services, cli_env: Settings) -> Services:
    for path, when in zip(SNAPSHOTS, TIMES, strict=True):
        result = CliRunner().invoke(main, [
            "import", "csv", str(path), "--mapping", str(MAPPING), "--stated-at", when,
            "--retire-missing"], catch_exceptions=False)  # fmt: skip
        assert result.exit_code == 0, result.output
    store.runner.run_all()
    return store


def changes(client: FlaskClient, **query: Any) -> dict[str, dict[str, Any]]:
    answer = client.get("/api/v1/changes", query_string={"limit": 1000, **query})
    assert answer.status_code == 200, answer.json
    return {c["incident"]["external_ids"]["monitor"]: c for c in answer.json["items"]}


@pytest.mark.parametrize("step", range(3))
def test_what_each_release_changed(released: Services, client: FlaskClient, step: int) -> None:
    found = changes(client, **{"from": TIMES[step], "to": TIMES[step + 1]}, clock="stated",
                    namespace="monitor")  # fmt: skip
    assert {k: c["change"] for k, c in found.items()} == EXPECTED[step]


def test_a_change_says_what_changed_field_by_field(released: Services, client: FlaskClient) -> None:
    found = changes(client, **{"from": TIMES[1], "to": TIMES[2]}, clock="stated")
    named = found["MON-003"]["fields_changed"]
    assert named["title"] == {"from": "Shelling", "to": "Shelling: Bakhmut"}  # (town unnamed)
    assert named["location"]["to"]["name"] == "Bakhmut"
    reused = changes(client, **{"from": TIMES[2], "to": TIMES[3]}, clock="stated")["MON-005"]
    assert set(reused["fields_changed"]) >= {"title", "kind", "occurred", "location"}
    assert reused["fields_changed"]["kind"] == {"from": "shelling", "to": "strike"}
    assert reused["statements_said"] >= 1


def test_the_whole_span_and_the_recorded_clock(released: Services, client: FlaskClient) -> None:
    whole = changes(client, **{"from": TIMES[0], "to": TIMES[3]}, clock="stated")
    # MON-004: removed in February, back in March as it was: no change from January to April
    assert {k: c["change"] for k, c in whole.items()} == {
        "MON-001": "changed", "MON-002": "retired", "MON-003": "retired",
        "MON-005": "added", "MON-006": "added", "MON-007": "added",
    }  # fmt: skip
    # Recorded clock: everything was learned in this test, long after the releases' dates;
    # the rows the last release left out are on the timeline no more
    learned = changes(client, **{"from": "2020-01-01T00:00:00Z", "to": "2099-01-01T00:00:00Z"})
    assert {k: c["change"] for k, c in learned.items()} == {
        k: "added" for k in ("MON-001", "MON-004", "MON-005", "MON-006", "MON-007")
    }
    bad = client.get("/api/v1/changes", query_string={"from": TIMES[1], "to": TIMES[0]})
    assert bad.status_code == 422 and "from" in bad.json["errors"]["query"]

"""Reconciliation on the fixtures: the same thirty events as ACLED, UCDP GED and a monitor's
rows (examples/reconcile, made by its make.py), proposed, decided on both clocks, answered
as one event, and counted once."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from cli import main
from tests.datasets import FIXTURES
from timeline.bootstrap import Services
from timeline.config import Settings

HERE = FIXTURES.parent.parent / "examples" / "reconcile"
NAMESPACES = ("acled", "ucdp-ged", "monitor")


def cli(*args: str | Path) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def loaded(store: Services, cli_env: Settings) -> dict[str, str]:
    """The three datasets imported and caught up: each dataset id → its incident id."""
    cli("import", "acled", HERE / "acled.csv")
    cli("import", "ucdp-ged", HERE / "ged.csv")
    cli("import", "csv", HERE / "monitor.csv", "--mapping", HERE / "monitor.toml")
    store.runner.run_all()
    ids = {}
    for row in store.views.query("SELECT footprint FROM link_footprints"):
        import json

        footprint = json.loads(row["footprint"])
        for label in footprint["labels"]:
            ids[label] = footprint["incident_id"]
    return ids


def true_pairs(ids: dict[str, str]) -> set[frozenset[str]]:
    """The pairs the matcher must propose: every two datasets' rows of one event."""
    pairs = set()
    with (HERE / "truth.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            members = [ids[f"{ns}:{row[ns.replace('-', '_')]}"] for ns in NAMESPACES
                       if row[ns.replace("-", "_")]]  # fmt: skip
            pairs |= {frozenset((a, b)) for a in members for b in members if a < b}
    return pairs


def proposed(client: FlaskClient, **query: Any) -> list[dict[str, Any]]:
    answer = client.get("/api/v1/links/proposals", query_string={"limit": 1000, **query})
    assert answer.status_code == 200, answer.json
    return list(answer.json["items"])


def test_the_matcher_proposes_every_true_pair_and_no_near_miss(
    loaded: dict[str, str], client: FlaskClient
) -> None:
    found = {frozenset((p["first"], p["second"])) for p in proposed(client)}
    truth = true_pairs(loaded)
    assert len(truth) == 30 + 20 + 20  # ACLED-UCDP, ACLED-monitor, UCDP-monitor
    recall = len(found & truth) / len(truth)
    precision = len(found & truth) / len(found)
    assert (recall, precision) == (1.0, 1.0), sorted(found ^ truth, key=sorted)[:5]
    near_misses = {loaded[f"acled:UKR{7900 + k}"] for k in range(5)}
    assert not any(pair & near_misses for pair in found)


def test_each_proposal_says_why(loaded: dict[str, str], client: FlaskClient) -> None:
    first = loaded["acled:UKR7001"]
    (proposal,) = [p for p in proposed(client) if first in (p["first"], p["second"])
                   and loaded["ucdp-ged:600001"] in (p["first"], p["second"])]  # fmt: skip
    assert 0.55 <= proposal["score"] <= 1
    days = ("2023-03-04", "2023-03-05")
    if proposal["first"] != first:
        days = days[::-1]
    assert proposal["reasons"][0].startswith(f"dates 1 day apart ({days[0]} and {days[1]})")
    assert "km apart" in proposal["reasons"][1] and "Kramatorsk town" in proposal["reasons"][1]
    kinds = "shelling and battle" if proposal["first"] == first else "battle and shelling"
    assert proposal["reasons"][2] == f"{kinds} (alike)"  # UCDP calls it a battle
    shown = {i["datasets"][0]: i for i in proposal["incidents"]}
    assert set(shown) == {"acled:UKR7001", "ucdp-ged:600001"}
    assert shown["acled:UKR7001"]["place"] == "Kramatorsk"
    assert shown["ucdp-ged:600001"]["start"].startswith("2023-03-05")
    # an incident's own proposals: UCDP's row and the monitor's
    own = proposed(client, incident=first)
    assert len(own) == 2 and all(first in (p["first"], p["second"]) for p in own)


def test_reconcile_compares_two_datasets_and_links_above_a_score(
    loaded: dict[str, str], client: FlaskClient, tmp_path: Path
) -> None:
    report = tmp_path / "proposals.csv"
    output = cli("reconcile", "--namespaces", "acled,ucdp-ged", "--output", report,
                 "--link-above", "0.7")  # fmt: skip
    assert "acled: 35 incident(s); ucdp-ged: 30" in output
    assert "30 proposal(s)" in output
    with report.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 30 and {r["first_ids"].split(":")[0] for r in rows} <= {"acled", "ucdp-ged"}
    linked = int(output.split(" pair(s) linked")[0].rsplit("\n", 1)[-1])
    assert linked == sum(float(r["score"]) >= 0.7 for r in rows) > 0
    held = client.get("/api/v1/links", query_string={"limit": 1000})
    assert len(held.json["items"]) == linked
    assert all(link["score"] >= 0.7 and link["reasons"] for link in held.json["items"])
    again = cli("reconcile", "--namespaces", "acled,ucdp-ged", "--link-above", "0.7")
    assert "0 pair(s) linked" in again  # decided pairs are left as they are


def decide(
    client: FlaskClient, writer: dict[str, str], a: str, b: str, decision: str, **more: Any
) -> Any:
    body = {"incidents": [a, b], "decision": decision, "reason": f"{decision} by test", **more}
    return client.post("/api/v1/links", json=body, headers=writer)


def test_decisions_are_events_replayable_on_both_clocks(
    loaded: dict[str, str], client: FlaskClient, writer: dict[str, str], store: Services
) -> None:
    a, b = loaded["acled:UKR7000"], loaded["ucdp-ged:600000"]
    linked = decide(client, writer, a, b, "link")
    assert linked.status_code == 201 and linked.json["status"] == "linked"
    assert decide(client, writer, b, a, "link").status_code == 200  # (either order: unchanged)
    store.runner.run_all()
    (link,) = client.get("/api/v1/links").json["items"]
    assert link["score"] > 0.55 and link["by"]["name"]  # it confirmed the proposal shown
    assert all({p["first"], p["second"]} != {a, b} for p in proposed(client))  # decided
    held_at = link["sys_from"]
    time.sleep(0.01)
    assert decide(client, writer, a, b, "unlink").status_code == 201
    # Decided before, stated: "we had rejected it on 1 June"
    c, d = loaded["acled:UKR7001"], loaded["ucdp-ged:600001"]
    rejected = decide(client, writer, c, d, "reject", stated_at="2024-06-01T00:00:00Z")
    assert rejected.status_code == 201 and rejected.json["status"] == "rejected"
    store.runner.run_all()
    assert client.get("/api/v1/links").json["items"] == []
    then = client.get("/api/v1/links", query_string={"as_of": held_at}).json["items"]
    assert [(x["first"], x["second"]) for x in then] == [tuple(sorted((a, b)))]
    # a rejected pair leaves the queue; undoing the rejection brings it back
    assert all({p["first"], p["second"]} != {c, d} for p in proposed(client))
    assert decide(client, writer, c, d, "unlink").status_code == 201
    store.runner.run_all()
    assert any({p["first"], p["second"]} == {c, d} for p in proposed(client))
    # stated clock: a link stated in the past holds from then, not before
    e, f = loaded["acled:UKR7002"], loaded["monitor:MON-R002"]
    assert decide(client, writer, e, f, "link", stated_at="2024-01-01T00:00:00Z").status_code == 201
    store.runner.run_all()
    stated = {"clock": "stated"}
    before = client.get("/api/v1/links", query_string={**stated, "as_of": "2023-12-31T00:00:00Z"})
    after = client.get("/api/v1/links", query_string={**stated, "as_of": "2024-01-02T00:00:00Z"})
    assert before.json["items"] == []
    assert [(x["first"], x["second"]) for x in after.json["items"]] == [tuple(sorted((e, f)))]
    recorded_then = client.get("/api/v1/links", query_string={"as_of": "2024-01-02T00:00:00Z"})
    assert recorded_then.json["items"] == []  # recorded only today


def test_bad_decisions_are_refused(
    loaded: dict[str, str], client: FlaskClient, writer: dict[str, str], store: Services
) -> None:
    a, b = loaded["acled:UKR7000"], loaded["ucdp-ged:600000"]
    head = store.app.head()
    same = decide(client, writer, a, a, "link")
    assert same.status_code == 422 and "incidents" in same.json["errors"]["json"]
    unknown = decide(client, writer, a, "00000000-0000-4000-8000-000000000000", "link")
    assert unknown.status_code == 404
    undecided = decide(client, writer, a, b, "unlink")
    assert undecided.status_code == 409
    bad = decide(client, writer, a, b, "merge")
    assert bad.status_code == 422 and "decision" in bad.json["errors"]["json"]
    blank = client.post("/api/v1/links", headers=writer,
                        json={"incidents": [a, b], "decision": "link", "reason": "  "})  # fmt: skip
    assert blank.status_code == 422
    no_key = client.post("/api/v1/links", json={"incidents": [a, b], "decision": "link",
                                                "reason": "r"})  # fmt: skip
    assert no_key.status_code == 401
    assert store.app.head() == head  # nothing written


def link_event(client: FlaskClient, writer: dict[str, str], ids: dict[str, str], n: int) -> str:
    members = [ids[f"acled:UKR{7000 + n}"], ids[f"ucdp-ged:{600000 + n}"]]
    if n < 20:
        members.append(ids[f"monitor:MON-R{n:03d}"])
    for other in members[1:]:
        assert decide(client, writer, members[0], other, "link").status_code == 201
    return members[0]


def test_a_linked_group_answers_as_one_event(
    loaded: dict[str, str], client: FlaskClient, writer: dict[str, str], store: Services
) -> None:
    acled = link_event(client, writer, loaded, 4)
    store.runner.run_all()
    answer = client.get(f"/api/v1/clusters/{loaded['ucdp-ged:600004']}")  # by any member
    assert answer.status_code == 200, answer.json
    group = answer.json
    assert group["id"] == min(loaded[k] for k in ("acled:UKR7004", "ucdp-ged:600004",
                                                  "monitor:MON-R004"))  # fmt: skip
    assert sorted(m["claimant"] for m in group["members"]) == ["acled", "monitor", "ucdp-ged"]
    assert len(group["links"]) == 2
    (killed,) = [f for f in group["figures"] if f["metric"] == "killed"]
    by_claimant = {c["claimant"]: c["value"] for c in killed["claims"]}
    # the fixture's counts: ACLED 5, UCDP 5 + 1, the monitor 5 + 1
    assert by_claimant == {"acled": 5, "ucdp-ged": 6, "monitor": 6}
    assert killed["spread"] == {"min": 5, "max": 6, "range": 1, "claimants": 3}
    assert group["disagreement"]["days_apart"] == 1 and 0 < group["disagreement"]["km_apart"] < 15
    assert "Nikopol town" in group["disagreement"]["places"]
    alone = client.get(f"/api/v1/clusters/{loaded['acled:UKR7020']}").json
    assert [m["claimant"] for m in alone["members"]] == ["acled"] and alone["links"] == []
    before = client.get(f"/api/v1/clusters/{acled}", query_string={"as_of": "2020-01-01T00:00:00Z"})
    assert before.status_code == 404  # not known then
    missing = client.get("/api/v1/clusters/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404


def count(client: FlaskClient, path: str, **query: Any) -> int:
    answer = client.get(path, query_string={"limit": 1000, **query})
    assert answer.status_code == 200, answer.json
    return len(answer.json["items"])


def test_dedupe_linked_counts_each_group_once(
    loaded: dict[str, str], client: FlaskClient, writer: dict[str, str], store: Services,
    tmp_path: Path,
) -> None:  # fmt: skip
    for n in (0, 1, 2, 25):  # three groups of three, one of two
        link_event(client, writer, loaded, n)
    store.runner.run_all()
    assert count(client, "/api/v1/incidents") == 85
    assert count(client, "/api/v1/incidents", dedupe="linked") == 85 - 2 * 3 - 1
    # each group shows as its first member the other filters match: ACLED and the monitor
    # call events 0 and 1 shelling (UCDP: violence against civilians, a battle), so each
    # counts once; events 2 and 25 have at most one member called shelling
    shelling = count(client, "/api/v1/incidents", kind="shelling")
    assert count(client, "/api/v1/incidents", kind="shelling", dedupe="linked") == shelling - 2
    battles = count(client, "/api/v1/incidents", kind="battle")
    assert count(client, "/api/v1/incidents", kind="battle", dedupe="linked") == battles - 1
    ucdp = count(client, "/api/v1/incidents", namespace="ucdp-ged", dedupe="linked")
    assert ucdp == 30  # filtered to one dataset, no group hides behind another's row
    timeline = count(client, "/api/v1/timeline")
    assert count(client, "/api/v1/timeline", dedupe="linked") == timeline - 7
    exported = tmp_path / "incidents.ndjson"
    cli("export", "--format", "ndjson", "--dedupe-linked", "-o", exported)
    assert len(exported.read_text().splitlines()) == 85 - 7
    totals = client.get("/api/v1/aggregates", query_string={"dedupe": "linked"})
    assert totals.status_code == 200, totals.json
    assert sum(b["count"] for b in totals.json["items"]) == 85 - 7
    plain = client.get("/api/v1/aggregates").json["items"]
    assert sum(b["count"] for b in plain) == 85


def test_the_queue_narrows_to_a_dataset_by_its_namespace_alone(
    loaded: dict[str, str], client: FlaskClient, store: Services
) -> None:
    # An analyst's own incident of event 0, with an actor who happens to be called Monitor
    row = client.get(f"/api/v1/incidents/{loaded['acled:UKR7000']}").json
    store.app.report_incident(
        {"title": "Shelling of Kherson", "kind": "shelling",
         "occurred": {"start": row["occurred"]["start"], "precision": "day"},
         "location": {k: v for k, v in row["location"].items() if v is not None},
         "actors": [{"name": "Monitor"}], "tags": []},
    )  # fmt: skip
    store.runner.run_all()
    mine = proposed(client, namespace="monitor")
    # ACLED's and UCDP's rows beside the monitor's, and the analyst's beside the monitor's —
    # not the analyst's beside ACLED's or UCDP's (its actor's name is no dataset)
    assert len(mine) == 20 + 20 + 1
    assert all(any(d.startswith("monitor:") for i in p["incidents"] for d in i["datasets"])
               for p in mine)  # fmt: skip
    assert len(proposed(client, namespace="own")) == 3  # the analyst's, with each dataset's

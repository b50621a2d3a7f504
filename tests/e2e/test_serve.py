"""`timeline serve` as a real process: HTTP in, the real worker builds the timeline."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import WRITE_KEY
from tests.e2e.processes import clean_env, serving, wait_until
from tests.factories import a_statement, an_incident, as_json

pytestmark = [pytest.mark.e2e, pytest.mark.own_services]


@pytest.fixture(params=["embedded", "postgres"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The base URL of a running `timeline serve` (embedded default, or PostgreSQL + Redis)."""
    env = {"data_dir": str(tmp_path / "var"), "api_keys": f"write:{WRITE_KEY}"}
    if request.param == "postgres":
        env |= {
            "database_url": request.getfixturevalue("postgres_server"),
            "database_schema": request.getfixturevalue("postgres_schema"),
            "redis_url": request.getfixturevalue("redis_url"),
        }
    log = tmp_path / "serve.log"
    try:
        with serving(["--demo"], clean_env(**env), log) as base:
            yield base
    finally:
        print(log.read_text()[-3000:])


def test_posted_statements_appear_in_the_timeline(served: str) -> None:
    headers = {"Authorization": f"Bearer {WRITE_KEY}"}
    incident = requests.post(
        f"{served}/incidents",
        json=as_json(an_incident(title="E2E strike")),
        headers=headers,
        timeout=10,
    )
    assert incident.status_code == 201, incident.text
    incident_id = incident.json()["id"]
    positions = []
    for n in range(5):
        recorded = requests.post(
            f"{served}/incidents/{incident_id}/statements",
            json=as_json(a_statement(text=f"statement {n}")),
            headers=headers,
            timeout=10,
        )
        assert recorded.status_code == 201, recorded.text
        positions.append(recorded.json()["position"])

    def visible() -> Any:
        page = requests.get(f"{served}/timeline", params={"incident": incident_id}, timeout=5)
        return page.ok and len(page.json()["items"]) == 6 and page.json()

    page = wait_until(visible, 30, "the worker to project the statements")
    assert page["position"] >= max(positions)  # type: ignore[index]
    texts = {item["statement"]["text"] for item in page["items"] if item["type"] == "statement"}  # type: ignore[index]
    assert texts == {f"statement {n}" for n in range(5)}

    waited = requests.get(f"{served}/timeline", params={"min_position": max(positions)}, timeout=10)
    assert waited.status_code == 200
    assert waited.headers["X-Request-ID"]

    # /metrics sums the counts of every gunicorn worker (prometheus multiprocess mode)
    metrics = requests.get(f"{served}/metrics", timeout=5).text
    posted = [
        line
        for line in metrics.splitlines()
        if line.startswith("timeline_http_requests_total{")
        and 'route="/api/v1/incidents/<uuid:incident_id>/statements"' in line
        and 'status="201"' in line
    ]
    assert len(posted) == 1 and float(posted[0].rsplit(" ", 1)[1]) == 5


def test_demo_data_is_served(served: str) -> None:
    def demo_loaded() -> Any:
        page = requests.get(
            f"{served}/timeline", params={"q": "Kramatorsk", "limit": 500}, timeout=5
        )
        return page.ok and page.json()["items"]

    items = wait_until(demo_loaded, 30, "the demo timeline")
    assert any(i["type"] == "incident" for i in items)  # type: ignore[attr-defined]
    ready = requests.get(f"{served}/ready", timeout=5).json()
    assert ready["ready"] and ready["redis"] == "ok"


def test_the_demo_tells_the_story(served: str) -> None:
    """Issue 3's acceptance: the analyses over the demo data, through the real worker."""
    from timeline.demo import demo_id

    def caught_up() -> Any:
        ready = requests.get(f"{served}/ready", timeout=5).json()
        return all(p["lag"] == 0 for p in ready["projections"]) and ready["head"] > 0

    wait_until(caught_up, 60, "every projection to catch up with the demo")

    ceasefires = requests.get(f"{served}/ceasefires", timeout=5).json()["items"]
    (christmas,) = ceasefires
    assert christmas["status"] == "violated"
    assert [v["kind"] for v in christmas["violations"]] == ["shelling"]

    kramatorsk = str(demo_id("kramatorsk"))
    claims = requests.get(
        f"{served}/claims", params={"incident": kramatorsk, "metric": "killed"}, timeout=5
    ).json()["items"]
    (killed,) = claims
    assert killed["contested"] and (killed["low"], killed["high"]) == (0, 600)
    assert killed["disputed_by"][0]["source"]["side"] == "UA"

    makiivka = requests.get(
        f"{served}/claims", params={"incident": str(demo_id("makiivka"))}, timeout=5
    ).json()["items"]
    assert {(g["metric"], g["figures"][0]["source"]["side"]) for g in makiivka} == {
        ("killed", "RU"),
        ("killed_or_wounded", "UA"),
    }
    mobilisation = requests.get(
        f"{served}/claims", params={"incident": str(demo_id("second-mobilisation"))}, timeout=5
    ).json()["items"]
    assert mobilisation[0]["disputed_by"][0]["source"]["name"] == "Kremlin"

    diff = requests.get(
        f"{served}/incidents/{kramatorsk}/diff",
        timeout=5,
        params={"from": "2023-01-08T09:00:00Z", "to": "2023-01-09T09:00:00Z", "clock": "stated"},
    ).json()
    arrived = {s["source"]["name"] for s in diff["statements_added"]}
    assert {"Serhiy Cherevaty, Ukrainian army spokesman", "Mayor of Kramatorsk"} <= arrived

    history = requests.get(f"{served}/incidents/{kramatorsk}/history", timeout=5).json()
    assert [v["version"] for v in history["items"]] == list(range(1, 7))
    sources = {s["name"]: s for s in requests.get(f"{served}/sources", timeout=5).json()["items"]}
    assert sources["Russian Ministry of Defence"]["denied"] == 1
    ledger = requests.get(f"{served}/ledger", timeout=5).json()
    assert ledger["position"] == ledger["log_head"] and len(ledger["hash"]) == 64


def test_the_banner_names_the_dashboard_and_the_api_answers_at_its_root(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    env = clean_env(data_dir=str(tmp_path / "var"))
    with serving([], env, log) as base:
        root = base.removesuffix("/api/v1")
        index = requests.get(base, timeout=5)
        assert index.status_code == 200 and index.json()["links"]["docs"].endswith("/docs")
        assert "<html" in requests.get(f"{root}/", timeout=5).text.lower()
    assert f"serving the dashboard at {root}/ and the API at {base}" in log.read_text()


def test_a_taken_port_is_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = clean_env(data_dir=str(tmp_path / "var"))
        done = subprocess.run(
            [sys.executable, "-m", "cli", "serve", "--port", str(port)],
            env=env, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    assert done.returncode == 1
    assert done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert f"port {port} on 127.0.0.1 is already in use" in line and "PORT=" in line
    assert not (tmp_path / "var").exists()  # nothing was started or created

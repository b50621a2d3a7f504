"""Narrative audit: as-of reads, analysis endpoints under load, ledger build and verify.

    python bench/analysis.py [--backend sqlite|postgres] [--statements 100000] [--repeat 20]

1. As-of read of one incident with 5,000 statements at a time near its end, beside reading its
   current state, in the application and through the API (Flask test client, JSON included).
2. p50/p95 of GET /ceasefires, /claims (all, and one incident), /sources with ``--statements``
   statements loaded (2% of incidents are ceasefires, 20% fighting, a third of statements give
   a figure, one in ten is a denial).
3. The ledger: build rate (events/s) beside the bare read+decode rate of the same log, and the
   time `timeline verify` needs for the whole log.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import timedelta
from typing import Any
from uuid import UUID

from common import deployment, percentile, rate

from api import create_app
from tests.factories import T0, a_statement, an_incident
from timeline.application import TimelineApp
from timeline.bootstrap import build, event_store_env
from timeline.event_log import read_log
from timeline.ledger import verify
from timeline.projections.framework import rebuild
from timeline.projections.ledger import stored_links

SIDES = ("RU", "UA", "GB", "independent")


def timed(fn: Any, repeat: int) -> list[float]:
    """Milliseconds per call, ``repeat`` calls after one warm-up."""
    fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def as_of_reads(settings: Any, repeat: int) -> None:
    services = build(settings)
    app = services.app
    app.on_append = lambda position: None
    incident_id = UUID(app.report_incident(an_incident()).incident_id)
    for chunk in range(10):
        app.apply_batch([{"id": str(incident_id), "statements": [
            a_statement(text=f"statement {chunk}-{n}") for n in range(500)]}])  # fmt: skip
    near_end = app.repository.get(incident_id, version=4990).modified_on
    client = create_app(services=services).test_client()
    cold = TimelineApp(env=event_store_env(settings) | {"AGGREGATE_CACHE_MAXSIZE": ""})
    rows = {
        "app: current state": lambda: app.get_incident(incident_id),
        "app: current, cold (no cache)": lambda: cold.get_incident(incident_id),
        "app: as of near the end": lambda: app.get_incident(incident_id, as_of=near_end),
        "HTTP: current state": lambda: client.get(f"/api/v1/incidents/{incident_id}"),
        "HTTP: as of near the end": lambda: client.get(
            f"/api/v1/incidents/{incident_id}", query_string={"as_of": near_end.isoformat()}
        ),
    }
    results = {name: statistics.median(timed(fn, repeat)) for name, fn in rows.items()}
    print("as-of read, incident with 5,000 statements (median ms):")
    for name, ms in results.items():
        print(f"  {name:28} {ms:8.1f}")
    app_ratio = results["app: as of near the end"] / results["app: current state"]
    cold_ratio = results["app: as of near the end"] / results["app: current, cold (no cache)"]
    http_ratio = results["HTTP: as of near the end"] / results["HTTP: current state"]
    print(
        f"  ratio as-of/current: app {app_ratio:.2f} (vs cold {cold_ratio:.2f}), "
        f"HTTP {http_ratio:.2f} (target <= 2)"
    )
    services.close()


def load(app: Any, statements: int) -> None:
    per_incident, batch = 50, 40
    incidents = statements // per_incident
    for start in range(0, incidents, batch):
        items = []
        for n in range(start, min(start + batch, incidents)):
            at = T0 + timedelta(hours=n)
            kind = "ceasefire" if n % 50 == 0 else ("shelling" if n % 5 == 0 else "assessment")
            occurred = (
                {"start": at, "end": at + timedelta(days=3)}
                if kind == "ceasefire"
                else {"start": at}
            )
            items.append(
                {
                    **an_incident(kind=kind, occurred=occurred, actors=["RU", "UA"]),
                    "statements": [_statement(n, s, at) for s in range(per_incident)],
                }
            )
        app.apply_batch(items)


def _statement(n: int, s: int, at: Any) -> dict[str, Any]:
    side = SIDES[(n + s) % len(SIDES)]
    figures = [{"metric": "killed", "value": (n * s) % 700, "qualifier": "about", "subject": "UA"}]
    return a_statement(
        source={"name": f"Source {(n + s) % 40}", "side": side, "type": "media"},
        stance="denial" if s % 10 == 9 else "claim",
        stated_at=at + timedelta(minutes=s),
        figures=figures if s % 3 == 0 else [],
    )


def analysis_latency(settings: Any, statements: int, repeat: int) -> None:
    services = build(settings)
    app = services.app
    app.on_append = lambda position: None
    load(app, statements)
    head = app.head()
    for name, projection in services.projections.items():
        if name not in ("ledger", "webhooks"):
            rebuild(app, services.views, [projection], 2000)
    client = create_app(services=services).test_client()
    some_incident = read_log(app, 0, 1)[0].incident_id
    print(f"analysis endpoints, {statements} statements, {head} events (ms):")
    for url in (
        "/api/v1/ceasefires",
        "/api/v1/claims",
        f"/api/v1/claims?incident={some_incident}",
        "/api/v1/sources",
        "/api/v1/sources/Source%207",
    ):
        times = timed(lambda url=url: client.get(url), repeat)
        p50, p95 = percentile(times, 50), percentile(times, 95)
        print(f"  GET {url[:48]:50} p50 {p50:8.1f}  p95 {p95:8.1f}")

    started = time.perf_counter()
    after = 0
    while entries := read_log(app, after, 1000):
        after = entries[-1].position
    bare = rate(head, time.perf_counter() - started)
    started = time.perf_counter()
    rebuild(app, services.views, [services.projections["ledger"]], 1000)
    built = rate(head, time.perf_counter() - started)
    print(
        f"ledger build: {built:.0f} events/s beside bare read+decode {bare:.0f} events/s "
        f"(ratio {built / bare:.2f})"
    )
    started = time.perf_counter()
    verdict = verify(app, stored_links(services.views))
    print(
        f"timeline verify: {time.perf_counter() - started:.1f} s for {verdict.checked} events "
        f"(ok={verdict.ok})"
    )
    services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--statements", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print(f"backend: {args.backend}")
    with deployment(args.backend) as settings:
        as_of_reads(settings, args.repeat)
    with deployment(args.backend) as settings:
        analysis_latency(settings, args.statements, args.repeat)


if __name__ == "__main__":
    main()

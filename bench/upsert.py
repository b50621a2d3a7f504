"""Batch upsert: /batch of 10,000 mixed items beside 10,000 plain inserts, in the same run.

    python bench/upsert.py [--backend sqlite|postgres] [--items 10000] [--rounds 3]

Each round, on one store: a /batch of ``--items`` new incidents, each with an external id (the
baseline: plain inserts), then a /batch of as many items naming incidents by external id —
half new, a quarter of the baseline's with a changed title, a quarter of them unchanged — as a
newer release of a dataset would be sent. Both through the Flask test client in this process
(JSON parsing, schema, application, one transaction). Prints items/s of each, the upsert's
time over the inserts', and the events each wrote (the upsert: one per new incident and its id
claim, one per changed incident, none for an unchanged one).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from common import KEY, deployment, rate

from api import create_app
from timeline.bootstrap import build

HEADERS = {"Authorization": f"Bearer {KEY}"}


def item(ns_id: str, title: str) -> dict[str, Any]:
    """One row of a dataset as a /batch item."""
    return {
        "title": title,
        "kind": "shelling",
        "occurred": {"start": "2022-03-01"},
        "location": {"name": "Kharkiv", "country": "UA", "lat": 49.99, "lon": 36.23},
        "actors": [{"name": "Military Forces of Russia (2000-)", "side": "RU"}],
        "properties": {"notes": f"Shelling reported in Kharkiv ({ns_id}).", "fatalities": 2},
        "external_ids": {"acled": ns_id},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n, quarter = args.items, args.items // 4
    inserts, upserts, written = [], [], []
    with deployment(args.backend) as settings:
        services = build(settings.with_changes(rate_limit=None))
        services.app.on_append = lambda position: None  # no workers here
        client = create_app(services=services).test_client()

        def post(items: list[dict[str, Any]]) -> float:
            started = time.perf_counter()
            answer = client.post("/api/v1/batch", json={"items": items}, headers=HEADERS)
            spent = time.perf_counter() - started
            assert answer.status_code == 201, answer.json
            return spent

        for r in range(args.rounds):
            inserts.append(post([item(f"R{r}-{i}", f"Row {i}") for i in range(n)]))
            head = services.app.head()
            mixed = [item(f"R{r}-N{i}", f"New {i}") for i in range(n // 2)]
            mixed += [item(f"R{r}-{i}", f"Row {i} (revised)") for i in range(quarter)]
            mixed += [item(f"R{r}-{i}", f"Row {i}") for i in range(quarter, 2 * quarter)]
            upserts.append(post(mixed))
            written.append(services.app.head() - head)
        services.close()
    plain, upsert = statistics.median(inserts), statistics.median(upserts)
    print(f"backend: {args.backend}; {n} items a batch; median of {args.rounds} rounds")
    print(f"plain inserts (all new):          {rate(n, plain):8.0f} items/s ({plain:.2f} s)")
    print(
        f"upsert (1/2 new, 1/4 changed, 1/4 unchanged): {rate(n, upsert):8.0f} items/s "
        f"({upsert:.2f} s)  ratio {upsert / plain:.2f}x the inserts' time"
    )
    expected = (n // 2) * 2 + quarter
    print(f"events written by each upsert: {written} (expected {expected})")


if __name__ == "__main__":
    main()

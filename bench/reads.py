"""Reads as the log grows: /sources, /ceasefires, /timeline, /aggregates at 10k and 100k events.

    python bench/reads.py [--backend sqlite|postgres] [--sizes 10000,100000] [--repeat 200]

For each log size, a fresh deployment is loaded (the catch-up bench's data: an incident an hour,
each with four statements, the last denying the first; every tenth incident a five-hour
ceasefire), every projection caught up, then each endpoint's first page is requested
``--repeat`` times through the app in this process (Flask test client: routing, key check,
arguments, query, JSON) and its median taken. The rate limiter is off unless ``--rate-limit``
(it adds two Redis round trips to every request, whatever the endpoint). Baseline for
/timeline, in the same run: the raw SELECT of the same page (the query layer's own SQL,
executed and fetched on the read-model database, nothing assembled). Targets: p50 at the
largest size / p50 at the smallest <= 1.5 for each endpoint; /timeline p50 <= 5x its raw SELECT.

Replay, at each size: the same pages as of a time on each clock — recorded (``as_of`` just
after loading) and stated (``clock=stated``, ``as_of`` halfway through the data's own dates) —
beside the current read. Target: stated as-of <= 2x the current read at the largest size.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from catchup import PER_INCIDENT, incident_with_statements
from common import deployment

from api import create_app
from tests.factories import T0
from timeline.bootstrap import build
from timeline.projections.framework import catch_up
from timeline.projections.timeline import TimelineFilter, timeline_sql

ENDPOINTS = (
    "/api/v1/sources",
    "/api/v1/ceasefires",
    "/api/v1/timeline",
    # a fixed window of the data's dates: the same answer at every size
    "/api/v1/aggregates?group_by=kind&interval=week&from=2023-01-08&to=2023-03-31",
    "/api/v1/aggregates?measure=statements&group_by=source_side&interval=day"
    "&from=2023-01-08&to=2023-03-31",
)
REPLAYED = ("/api/v1/timeline", "/api/v1/incidents", "/api/v1/claims", "/api/v1/ceasefires")


def median_ms(call: Callable[[], Any], repeat: int) -> float:
    """Median milliseconds of ``repeat`` calls, after a few warm-up calls."""
    for _ in range(5):
        call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(backend: str, events: int, repeat: int, limited: bool) -> dict[str, float]:
    """Median ms of each endpoint's first page, and of the raw timeline SELECT."""
    with deployment(backend) as settings:
        services = build(settings if limited else settings.with_changes(rate_limit=None))
        app = services.app
        app.on_append = lambda position: None
        per_call = 500
        for call in range(events // (PER_INCIDENT * per_call)):
            app.apply_batch(
                [incident_with_statements(call * per_call + n) for n in range(per_call)]
            )
        catch_up(app, services.views, list(services.projections.values()))
        loaded = quote(datetime.now(UTC).isoformat())
        incidents = events // PER_INCIDENT
        halfway = quote((T0 + timedelta(hours=incidents // 2)).isoformat())
        client = create_app(services=services).test_client()
        found: dict[str, float] = {}
        paths = [*ENDPOINTS, *REPLAYED]
        paths += [f"{p}?as_of={loaded}" for p in REPLAYED]
        paths += [f"{p}?as_of={halfway}&clock=stated" for p in REPLAYED]
        for path in dict.fromkeys(paths):
            answer = client.get(path)
            assert answer.status_code == 200 and answer.json["items"], (path, answer.json)

            def get(path: str = path) -> None:
                assert client.get(path).status_code == 200

            found[path.split("&clock")[0].split("?as_of=")[0] + _clock(path)] = median_ms(
                get, repeat
            )
        sql, params = timeline_sql(TimelineFilter(), None, 101)

        def raw() -> None:
            with services.views.snapshot() as cursor:
                cursor.execute(sql, params)
                assert len(cursor.fetchall()) == 101

        found["raw SELECT"] = median_ms(raw, repeat)
        services.close()
    return found


def _clock(path: str) -> str:
    if "clock=stated" in path:
        return " stated as-of"
    return " recorded as-of" if "as_of" in path else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument(
        "--rate-limit",
        action="store_true",
        help="keep the default rate limit on (two Redis round trips a request)",
    )
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    results = {size: measure(args.backend, size, args.repeat, args.rate_limit) for size in sizes}
    small, large = sizes[0], sizes[-1]
    limit = "on" if args.rate_limit else "off"
    print(f"backend: {args.backend}; rate limit {limit}; p50 of {args.repeat} requests (ms)")
    print(f"{'':22}" + "".join(f"{size:>12,}" for size in sizes) + f"{'ratio':>9}")
    for name in (*ENDPOINTS, "raw SELECT"):
        row = "".join(f"{results[size][name]:12.2f}" for size in sizes)
        print(f"{name[:60]:22}{row}{results[large][name] / results[small][name]:9.2f}")
    for size in sizes:
        ratio = results[size]["/api/v1/timeline"] / results[size]["raw SELECT"]
        print(f"/timeline vs its raw SELECT at {size:,} events: {ratio:.1f}x (target <= 5)")
    print(f"replay at {large:,} events, p50 ms (ratio to the current read; stated target <= 2)")
    for path in REPLAYED:
        now = results[large][path]
        cells = [f"{now:8.2f}"]
        for clock in (" recorded as-of", " stated as-of"):
            took = results[large][path + clock]
            cells.append(f"{clock.strip():>18} {took:8.2f} ({took / now:4.2f}x)")
        print(f"{path:22}{'  '.join(cells)}")


if __name__ == "__main__":
    main()

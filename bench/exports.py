"""Streaming export: GET /incidents?format=… of every incident, at 10k and 100k incidents.

    python bench/exports.py [--sizes 10000,100000] [--format csv]

Each size in a child process of its own (so peak memory is that size's): a fresh SQLite
deployment is loaded (each incident with one statement giving a figure), every projection
caught up, then the whole export is streamed through the Flask app in that process and read
chunk by chunk, as a WSGI server would send it. Prints rows/s and the process's peak resident
memory before and after the export. Targets: >= 50k rows/s; the same peak at every size.
Baseline, same process: the raw SELECT of every incident row (the query layer's own SQL, a
page at a time, nothing assembled).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import timedelta

from common import deployment, rate

from api import create_app
from tests.factories import T0, a_statement, an_incident
from timeline.bootstrap import build
from timeline.projections.framework import catch_up
from timeline.projections.timeline import TimelineFilter, query_incidents


def peak_mb() -> float:
    """This process's peak resident memory so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(size: int, data_format: str) -> dict[str, float]:
    """Load ``size`` incidents, then time the export; returns the figures."""
    with deployment("sqlite") as settings:
        services = build(settings.with_changes(rate_limit=None))
        app = services.app
        app.on_append = lambda position: None
        for start in range(0, size, 1000):
            app.apply_batch(
                [
                    {**an_incident(occurred={"start": T0 + timedelta(minutes=n)}),
                     "statements": [a_statement()]}
                    for n in range(start, min(start + 1000, size))
                ]
            )  # fmt: skip
        catch_up(app, services.views, list(services.projections.values()))
        before = peak_mb()
        started = time.perf_counter()
        with services.views.snapshot() as cursor:
            after, rows = None, 0
            while page := query_incidents(cursor, TimelineFilter(), after, 500):
                rows += len(page)
                after = (page[-1]["at"], page[-1]["item_id"])
        raw = time.perf_counter() - started
        assert rows == size
        client = create_app(services=services).test_client()
        started = time.perf_counter()
        response = client.get(f"/api/v1/incidents?format={data_format}", buffered=False)
        sent = sum(len(chunk) for chunk in response.response)
        response.close()
        seconds = time.perf_counter() - started
        services.close()
    return {
        "rows_per_s": rate(size, seconds),
        "seconds": seconds,
        "mb": sent / 1e6,
        "raw_rows_per_s": rate(size, raw),
        "peak_before": before,
        "peak_after": peak_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--format", default="csv", choices=("csv", "ndjson", "geojson"))
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.format)))
        return
    print(f"export format={args.format}, SQLite, through the Flask app in-process")
    for size in (int(s) for s in args.sizes.split(",")):
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(size), "--format", args.format],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        r = json.loads(out.strip().splitlines()[-1])
        print(
            f"{size:>8,} incidents: {r['rows_per_s']:8.0f} rows/s ({r['seconds']:.1f} s, "
            f"{r['mb']:.0f} MB; raw SELECT {r['raw_rows_per_s']:.0f} rows/s)  peak RSS "
            f"{r['peak_before']:.0f} MB before, {r['peak_after']:.0f} MB after the export"
        )


if __name__ == "__main__":
    main()

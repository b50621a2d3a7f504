"""Catch-up: the timeline projection over 100,000 events, beside the bare read of the same log.

    python bench/catchup.py [--backend sqlite|postgres] [--events 100000] [--batch 1000]

Bare baseline (same run, same store): reading the log in batches and decoding every event into
a domain event object (``timeline.log.read_log``), which catch-up must do anyway. Memory is this
process's resident set after 10% of the events and at the end.
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

from common import deployment, rate, rss_mb

from tests.factories import T0, a_statement, an_incident
from timeline.bootstrap import build
from timeline.log import read_log
from timeline.projections.catchup import catch_up

PER_INCIDENT = 5  # the report and four statements


def incident_with_statements(n: int) -> dict[str, object]:
    """Incident n, an hour after incident n-1, with four statements over the following hours.

    Times advance as in a real conflict log, where most things are recorded soon after they
    are said; identical times would make every index insert land at a random place.
    """
    start = T0 + timedelta(hours=n)
    statements = [a_statement(stated_at=start + timedelta(minutes=10 * (s + 1))) for s in range(4)]
    return {**an_incident(occurred={"start": start}), "statements": statements}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    with deployment(args.backend) as settings:
        services = build(settings)
        app = services.app
        app.on_append = lambda position: None  # no workers here: nothing to trigger
        per_call = 500
        for call in range(args.events // (PER_INCIDENT * per_call)):
            app.apply_batch(
                [incident_with_statements(call * per_call + n) for n in range(per_call)]
            )
        head = app.head()

        started = time.perf_counter()
        position, read = 0, 0
        while entries := read_log(app, position, args.batch):
            position, read = entries[-1].position, read + len(entries)
        bare = rate(read, time.perf_counter() - started)

        memory: dict[str, float] = {}

        def watch(reached: int) -> None:
            if reached >= head // 10 and "early" not in memory:
                memory["early"] = rss_mb()

        started = time.perf_counter()
        applied = catch_up(app, services.views, services.projections["timeline"], args.batch, watch)
        seconds = time.perf_counter() - started
        memory["end"] = rss_mb()
        services.close()
    projected = rate(applied, seconds)
    print(f"backend: {args.backend}, {head} events, batches of {args.batch}")
    print(f"bare read+decode: {bare:9.0f} events/s")
    print(
        f"timeline catch-up: {projected:8.0f} events/s ({seconds:.1f} s)  "
        f"ratio {projected / bare:.2f} (targets >= 20,000/s on SQLite, ratio >= 0.15)"
    )
    print(
        f"resident memory: {memory['early']:.0f} MB at {head // 10} events, {memory['end']:.0f} MB "
        f"at {head}: grew {memory['end'] - memory['early']:.1f} MB (target < 50 MB)"
    )


if __name__ == "__main__":
    main()

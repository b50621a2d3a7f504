"""Catch-up: every projection together from an empty state, beside the bare read of the same log.

    python bench/catchup.py [--backend sqlite|postgres] [--events 100000] [--batch 1000] [--each]

Bare baseline (same run, same store): reading the log in batches and decoding every event into
its domain event object (``timeline.event_log.read_log``), which catch-up must do anyway. Then
all seven projections (six read models and the webhook dispatcher, no subscriptions) catch up
from position 0 in one shared loop, as a worker does after a fresh start or `timeline rebuild`.
``--each`` also times each projection alone (from 0 again), to show where the time goes.
Memory is this process's resident set after 10% of the events and at the end.
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta
from uuid import uuid4

from common import deployment, rate, rss_mb

from tests.factories import T0, a_statement, an_incident
from timeline.bootstrap import build
from timeline.event_log import read_log
from timeline.projections.framework import catch_up, rebuild

PER_INCIDENT = 5  # the report and four statements
UA = {"name": "Ukrainian army", "side": "UA", "type": "military"}


def incident_with_statements(n: int) -> dict[str, object]:
    """Incident n, an hour after incident n-1, with four statements over the following hours.

    Times advance as in a real conflict log, where most things are recorded soon after they
    are said; identical times would make every index insert land at a random place. Every
    tenth incident is a ceasefire and each incident's last statement denies its first, so the
    ceasefire and sources models have work to do. Incidents are dated on the stated clock five
    minutes after they start, as a dataset's rows are; ceasefires are not (published when
    recorded), so stated-clock reads take both paths.
    """
    start = T0 + timedelta(hours=n)
    statements = [a_statement(stated_at=start + timedelta(minutes=10 * (s + 1))) for s in range(4)]
    statements[0]["id"] = str(uuid4())
    statements[3] |= {"stance": "denial", "responds_to": statements[0]["id"], "source": UA}
    fields = an_incident(occurred={"start": start})
    if n % 10 == 0:
        fields |= {
            "kind": "ceasefire",
            "occurred": {"start": start, "end": start + timedelta(hours=5)},
        }
        return {**fields, "statements": statements}
    return {**fields, "statements": statements, "stated_at": start + timedelta(minutes=5)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--each", action="store_true", help="also time each projection alone")
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

        projections = list(services.projections.values())
        started, cpu = time.perf_counter(), time.process_time()
        catch_up(app, services.views, projections, args.batch, watch)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        memory["end"] = rss_mb()
        statuses = services.runner.status()
        assert all(s.position == head for s in statuses), statuses

        alone: dict[str, float] = {}
        if args.each:
            for projection in projections:
                if not projection.rebuildable:
                    continue
                started = time.perf_counter()
                rebuild(app, services.views, [projection], args.batch)
                alone[projection.name] = time.perf_counter() - started
        services.close()
    together = rate(head, seconds)
    print(f"backend: {args.backend}, {head} events, batches of {args.batch}")
    print(f"bare read+decode: {bare:9.0f} events/s")
    print(
        f"all {len(projections)} projections together: {together:8.0f} events/s "
        f"({seconds:.1f} s, {cpu:.1f} s of CPU)  ratio {together / bare:.2f} (target >= 0.5)"
    )
    for name, spent in alone.items():
        print(
            f"  {name:11} alone (read + apply): {rate(head, spent):8.0f} events/s ({spent:.1f} s)"
        )
    print(
        f"resident memory: {memory['early']:.0f} MB at {head // 10} events, {memory['end']:.0f} MB "
        f"at {head}: grew {memory['end'] - memory['early']:.1f} MB"
    )


if __name__ == "__main__":
    main()

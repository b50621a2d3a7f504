"""Reconciliation at scale: two datasets of N incidents each, compared by blocking.

    python bench/reconcile.py [--rows 100000]

Builds two synthetic datasets in one country-sized area over three years (the second placing
half of the first's events 0-8 km and 0-1 day away, the rest elsewhere), then:

- the matcher as `timeline reconcile` runs it (``propose_between``: blocking by map cell and
  day, then scoring), timed, with the pairs it found;
- the baseline, same run: scoring every pair (no blocking) on a 1,000 x 1,000 sample, its
  rate extrapolated to N x N.

Prints seconds, pairs proposed, recall of the planted pairs, and the ratio.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from timeline.domain.matching import Footprint, compare, footprint
from timeline.links import propose_between

DAY = 86_400


def incident(n: int, namespace: str, lat: float, lon: float, day: int, kind: str) -> Footprint:
    """A footprint as the read model keeps it, from an incident in the API's shape."""
    start = time.strftime("%Y-%m-%d", time.gmtime(1_640_995_200 + day * DAY))
    found = footprint({
        "id": f"{namespace}-{n:07d}", "kind": kind, "external_ids": {namespace: str(n)},
        "occurred": {"start": f"{start}T00:00:00+00:00", "end": None, "precision": "day"},
        "location": {"name": f"place {n}", "country": "UA", "lat": lat, "lon": lon,
                     "precision": "exact"},
        "actors": [{"name": "Military Forces of Russia", "side": "RU"}],
    })  # fmt: skip
    assert found is not None
    return found


def datasets(rows: int, seed: int = 7) -> tuple[list[Footprint], list[Footprint], set[tuple]]:
    """Two datasets; half of the second's rows are the first's events, a little moved."""
    rng = random.Random(seed)
    kinds = ["shelling", "strike", "battle", "explosion"]
    left, right, planted = [], [], set()
    for n in range(rows):
        lat, lon = rng.uniform(44.5, 52.0), rng.uniform(22.5, 40.0)
        day, kind = rng.randrange(3 * 365), rng.choice(kinds)
        left.append(incident(n, "a", lat, lon, day, kind))
        if n % 2 == 0:
            km, bearing = rng.uniform(0, 8), rng.uniform(0, 2 * math.pi)
            lat2 = lat + km * math.cos(bearing) / 111.2
            lon2 = lon + km * math.sin(bearing) / (111.2 * math.cos(math.radians(lat)))
            right.append(incident(n, "b", lat2, lon2, day + rng.choice((0, 0, 1)), kind))
            planted.add(tuple(sorted((left[-1].incident_id, right[-1].incident_id))))
        else:
            lat2, lon2 = rng.uniform(44.5, 52.0), rng.uniform(22.5, 40.0)
            right.append(incident(n, "b", lat2, lon2, rng.randrange(3 * 365), kind))
    return left, right, planted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    left, right, planted = datasets(args.rows)
    started = time.perf_counter()
    found = propose_between(left, right)
    seconds = time.perf_counter() - started
    pairs = {(p.first, p.second) for p in found}
    recall = len(pairs & planted) / len(planted)
    sample = 1000
    started = time.perf_counter()
    for a in left[:sample]:
        for b in right[:sample]:
            compare(a, b)
    per_pair = (time.perf_counter() - started) / sample**2
    all_pairs = per_pair * args.rows**2
    print(f"{args.rows:,} x {args.rows:,} incidents: blocked matcher {seconds:.1f} s, "
          f"{len(found):,} proposals ({len(pairs & planted):,} of {len(planted):,} planted: "
          f"recall {recall:.3f})")  # fmt: skip
    print(f"baseline, every pair scored: {per_pair * 1e6:.2f} µs a pair on a {sample}x{sample} "
          f"sample -> {all_pairs / 3600:.1f} h for all pairs; blocked is "
          f"{all_pairs / seconds:,.0f}x faster")  # fmt: skip


if __name__ == "__main__":
    main()

"""Outage: how long a client waits for its 503 while PostgreSQL is away, and for recovery.

    python bench/outage.py [--connect-timeout 5] [--requests 20]

The API (Flask test client, in process) reaches PostgreSQL through a TCP proxy that the script
cuts: every connection is dropped and new ones are refused, as in a database restart. It times
the first write after the cut (it waits out one pool timeout, then trips the circuit breaker),
the writes and reads after it, and, once the proxy is restored, how long until a write lands.
Baseline in the same run: a write with the database up.
"""

from __future__ import annotations

import argparse
import time

from common import KEY, deployment, percentile

from api import create_app
from tests.factories import a_statement, an_incident, as_json
from tests.proxy import Proxy
from timeline.bootstrap import build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connect-timeout", type=float, default=5.0)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    writer = {"Authorization": f"Bearer {KEY}"}

    with deployment("postgres") as settings:
        build(settings).close()
        proxy = Proxy(("127.0.0.1", 5432))
        assert settings.database_url
        url = settings.database_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        services = build(
            settings.with_changes(database_url=url, database_connect_timeout=args.connect_timeout)
        )
        client = create_app(services=services).test_client()
        incident = client.post("/api/v1/incidents", json=as_json(an_incident()), headers=writer)
        statements = f"/api/v1/incidents/{incident.json['id']}/statements"

        def timed(method: str, path: str) -> tuple[int, float]:
            started = time.perf_counter()
            if method == "POST":
                answer = client.post(path, json=as_json(a_statement()), headers=writer)
            else:
                answer = client.get(path)
            return answer.status_code, time.perf_counter() - started

        up = [timed("POST", statements)[1] for _ in range(args.requests)]
        proxy.cut()
        first = timed("POST", statements)
        writes = [timed("POST", statements) for _ in range(args.requests)]
        reads = [timed("GET", "/api/v1/timeline") for _ in range(args.requests)]
        proxy.restore()
        restored = time.perf_counter()
        status = 0
        while status != 201:
            status, _ = timed("POST", statements)
            if status != 201:
                time.sleep(0.05)
        recovery = time.perf_counter() - restored
        services.close()
        proxy.cut()

    ms = 1000
    print(f"PostgreSQL behind a proxy; TIMELINE_DATABASE_CONNECT_TIMEOUT={args.connect_timeout}")
    print(f"database up:   write p50 {percentile(up, 50) * ms:.1f} ms (baseline)")
    print(f"database down: first write {first[0]} after {first[1]:.2f} s")
    for name, timings in (("writes", writes), ("reads", reads)):
        codes = sorted({code for code, _ in timings})
        took = [t for _, t in timings]
        print(
            f"               next {len(timings)} {name}: {codes}, p50 "
            f"{percentile(took, 50) * ms:.1f} ms, max {max(took) * ms:.1f} ms"
        )
    print(f"restored:      first write landed {recovery:.2f} s after the database was back")


if __name__ == "__main__":
    main()

"""Scale-out ingest on PostgreSQL: gunicorn with 4 workers, 2 RQ workers, 8 client processes.

    python bench/scaleout.py [--statements 8000] [--clients 8] [--web-workers 4] [--workers 2]
                             [--threads 4] [--batch 1]

Each client process posts single statements (keep-alive http.client) to incidents spread over
50, some hot (a third of the writes go to 5 incidents). A thread reads each projection's lag
behind the log from the database every 50 ms (what /ready reports). Baseline, in the same run
and on the same database: 8 processes each saving StatementRecorded events with the bare event
store (``app.events.put`` of one event per call, on incidents of their own). With ``--batch N``
clients post N statements per ``POST /batch`` (a bulk importer) and the baseline puts N events
per call.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import random
import threading
import time
from urllib.parse import urlsplit
from uuid import UUID

import requests
from common import KEY, POSTGRES_URL, deployment, env_of, percentile

from tests.e2e.processes import free_port, start, stop, wait_until
from tests.factories import a_statement, an_incident, as_json
from timeline.bootstrap import build
from timeline.config import Settings

HOT = 5


def client(
    base: str,
    ids: list[str],
    count: int,
    batch: int,
    seed: int,
    out: multiprocessing.Queue,  # type: ignore[type-arg]
) -> None:
    """Post ``count`` statements (``batch`` per request); report (latencies, errors) to ``out``."""
    url = urlsplit(base)
    statement = as_json(a_statement())
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port)
    rng = random.Random(seed)
    latencies, errors = [], 0
    for _ in range(count // batch):
        target = ids[rng.randrange(HOT)] if rng.random() < 1 / 3 else rng.choice(ids)
        if batch == 1:
            path, body = f"/incidents/{target}/statements", statement
        else:
            path, body = "/batch", {"items": [{"id": target, "statements": [statement] * batch}]}
        started = time.perf_counter()
        connection.request("POST", url.path + path, json.dumps(body).encode(), headers)
        response = connection.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        errors += response.status not in (200, 201)
    out.put((latencies, errors))


def bare_saver(settings: Settings, count: int, batch: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """Save ``count`` events, ``batch`` per call, with the bare event store; report the seconds."""
    services = build(settings, create_tables=False)
    app = services.app
    incident = app.repository.get(UUID(app.report_incident(an_incident()).incident_id))
    started = time.perf_counter()
    for _ in range(count // batch):
        for _ in range(batch):
            incident.record_statement(a_statement())
        app.events.put(incident.collect_events())
    out.put(time.perf_counter() - started)
    services.close()


def run_clients(target, args_of, processes: int) -> list:  # type: ignore[no-untyped-def]
    out: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    workers = [
        multiprocessing.Process(target=target, args=(*args_of(n), out)) for n in range(processes)
    ]
    for worker in workers:
        worker.start()
    results = [out.get() for _ in workers]
    for worker in workers:
        worker.join()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=8000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--batch", type=int, default=1, help="statements per request (>1: POST /batch)"
    )
    args = parser.parse_args()
    per_client = args.statements // args.clients

    with deployment("postgres") as settings:
        build(settings).close()  # migrate once; the processes start with CREATE_TABLES=no
        env = env_of(settings) | {"TIMELINE_CREATE_TABLES": "no"}
        port = free_port()
        log_dir = settings.data_dir.parent
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        gunicorn = [
            "-m", "gunicorn", "--config", "python:gunicorn_conf",
            "--bind", f"127.0.0.1:{port}", "--workers", str(args.web_workers),
            "--threads", str(args.threads),
            "api.wsgi:app",
        ]  # fmt: skip
        processes = [start_python(gunicorn, env, log_dir / "gunicorn.log")]
        processes += [
            start(["worker"], env, log_dir / f"worker{n}.log") for n in range(args.workers)
        ]
        base = f"http://127.0.0.1:{port}/api/v1"
        try:
            wait_until(lambda: requests.get(f"{base}/health", timeout=1).ok, 60, "gunicorn")
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {KEY}"
            ids = [
                session.post(f"{base}/incidents", json=as_json(an_incident())).json()["id"]
                for _ in range(50)
            ]
            lags: list[int] = []
            polling = threading.Event()

            observer = build(settings, create_tables=False)

            def poll() -> None:
                # Straight from the database, as /ready computes it: polling /ready itself at
                # 20 Hz took about a quarter of the API's throughput on this 2-core machine.
                while not polling.is_set():
                    lags.append(max(s.lag for s in observer.runner.status()))
                    time.sleep(0.05)

            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
            started = time.perf_counter()
            results = run_clients(
                client, lambda n: (base, ids, per_client, args.batch, n), args.clients
            )
            took = time.perf_counter() - started
            polling.set()
            poller.join()
            drained_at = time.perf_counter()
            wait_until(
                lambda: (
                    max(p["lag"] for p in session.get(f"{base}/ready").json()["projections"]) == 0
                ),
                300,
                "projections to catch up",
            )
            drain = time.perf_counter() - drained_at
            observer.close()
        finally:
            for process in processes:
                stop(process)
        bare = run_clients(bare_saver, lambda n: (settings, per_client, args.batch), args.clients)

    latencies = [x for lat, _ in results for x in lat]
    errors = sum(e for _, e in results)
    statements = len(latencies) * args.batch
    http_rate = statements / took
    bare_rate = statements / max(bare)
    per = "" if args.batch == 1 else f" in requests of {args.batch}"
    print(
        f"PostgreSQL; gunicorn {args.web_workers} workers x {args.threads} threads, "
        f"{args.workers} RQ workers, "
        f"{args.clients} client processes, {statements} statements{per} over 50 incidents"
    )
    print(
        f"HTTP: {http_rate:.0f} statements/s, latency p50 {percentile(latencies, 50) * 1000:.1f} "
        f"ms, p99 {percentile(latencies, 99) * 1000:.1f} ms; {errors} non-201"
    )
    print(
        f"bare event store from {args.clients} processes, {args.batch} per save: "
        f"{bare_rate:.0f} statements/s; "
        f"ratio {http_rate / bare_rate:.2f} (target >= 0.5)"
    )
    print(
        f"projection lag under load (largest of all projections, events): p50 "
        f"{percentile(lags, 50):.0f}, p99 {percentile(lags, 99):.0f}, max {max(lags)} "
        f"(~{percentile(lags, 99) / http_rate * 1000:.0f} ms at this rate); "
        f"caught up {drain:.1f} s after the last write"
    )


def start_python(args: list[str], env: dict[str, str], log):  # type: ignore[no-untyped-def]
    """Run ``python ARGS`` (not the timeline CLI) in its own process group."""
    import subprocess
    import sys

    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, *args], env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip


if __name__ == "__main__":
    assert POSTGRES_URL
    main()

"""Ingest: statements/s through HTTP (single and /batch) beside the bare event store, same run.

    python bench/ingest.py [--backend sqlite|postgres] [--singles 2000] [--batches 50]
                           [--clients 4] [--incidents 50]

HTTP goes to `timeline serve` (2 gunicorn workers and the RQ worker, so projection work competes
for the same 2 cores), from ``--clients`` threads, statements spread over ``--incidents``.
Baselines, in the same run and on the same backend: putting one new StatementRecorded event in
the library's event store (``app.events.put``: encode + insert + commit, the least one request
must do), and putting 100 in one call (the least /batch must do), from one thread.
"""

from __future__ import annotations

import argparse
import http.client
import json
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit
from uuid import UUID

import requests
from common import KEY, deployment, rate, served

from tests.factories import a_statement, an_incident, as_json
from timeline.bootstrap import build

BATCH = 100


def bare_rates(settings, singles: int, batches: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    services = build(settings)
    app = services.app
    incident_id = UUID(app.report_incident(an_incident()).incident_id)
    incident = app.repository.get(incident_id)
    started = time.perf_counter()
    for _ in range(singles):
        incident.record_statement(a_statement())
        app.events.put(incident.collect_events())
    single = rate(singles, time.perf_counter() - started)
    started = time.perf_counter()
    for _ in range(batches):
        for _ in range(BATCH):
            incident.record_statement(a_statement())
        app.events.put(incident.collect_events())
    batched = rate(batches * BATCH, time.perf_counter() - started)
    services.close()
    return single, batched


def _session() -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {KEY}"
    return session


def _post_all(
    base: str, requests_to_send: list[tuple[str, dict[str, object]]], clients: int
) -> float:
    """Send every request from ``clients`` threads; returns the seconds taken.

    Uses the standard library's http.client with bodies encoded up front: the client shares the
    machine's two cores with the server, so it should spend as little of them as it can.
    """
    url = urlsplit(base)
    encoded = [(url.path + path, json.dumps(body).encode()) for path, body in requests_to_send]
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}

    def send(index: int) -> None:
        path, body = encoded[index]
        connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port)
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        answer = response.read()
        connection.close()
        assert response.status == 201, answer

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(send, range(len(requests_to_send))))
    return time.perf_counter() - started


def http_rates(
    settings, singles: int, batches: int, clients: int, incidents: int, web_workers: int
) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    with served(settings, "--web-workers", str(web_workers)) as base:
        session = _session()
        ids = [
            session.post(f"{base}/incidents", json=as_json(an_incident())).json()["id"]
            for _ in range(incidents)
        ]
        statement = as_json(a_statement())
        single_requests = [
            (f"/incidents/{ids[n % incidents]}/statements", statement) for n in range(singles)
        ]
        single = rate(singles, _post_all(base, single_requests, clients))
        batch_requests = [
            ("/batch", {"items": [{"id": ids[n % incidents], "statements": [statement] * BATCH}]})
            for n in range(batches)
        ]
        batched = rate(batches * BATCH, _post_all(base, batch_requests, clients))
    return single, batched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--singles", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--incidents", type=int, default=50)
    parser.add_argument("--batches", type=int, default=50)
    args = parser.parse_args()
    with deployment(args.backend) as settings:
        bare_single, bare_batch = bare_rates(settings, args.singles, args.batches)
    with deployment(args.backend) as settings:
        http_single, http_batch = http_rates(
            settings, args.singles, args.batches, args.clients, args.incidents, args.web_workers
        )
    print(f"backend: {args.backend}, {args.clients} HTTP clients, {args.incidents} incidents")
    print(
        f"single: HTTP {http_single:8.0f} statements/s  bare save {bare_single:8.0f}/s  "
        f"ratio {http_single / bare_single:.2f} (target >= 0.25)"
    )
    print(
        f"batch:  HTTP {http_batch:8.0f} statements/s  bare save {bare_batch:8.0f}/s  "
        f"ratio {http_batch / bare_batch:.2f} (target >= 0.5)"
    )


if __name__ == "__main__":
    main()

"""End-to-end lag: append acknowledged → visible in the `timeline` projection, at a steady rate.

    python bench/lag.py [--backend sqlite|postgres] [--rate 100] [--seconds 30]

Writes go to `timeline serve` over HTTP at a fixed rate (each write scheduled at its own time,
sent by one of four client threads so a slow answer does not delay the next write). A second
thread polls ``/ready`` every 5 ms and notes when the projection position first reaches each
acknowledged write's position. Lag = that moment minus the moment the 201 arrived.
"""

from __future__ import annotations

import argparse
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from common import KEY, deployment, percentile, served

from tests.factories import a_statement, an_incident, as_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    with deployment(args.backend) as settings, served(settings) as base:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {KEY}"
        ids = [
            session.post(f"{base}/incidents", json=as_json(an_incident())).json()["id"]
            for _ in range(20)
        ]
        statement = as_json(a_statement())
        acknowledged: list[tuple[int, float]] = []
        visible_at: dict[int, float] = {}
        done = threading.Event()
        errors: list[str] = []
        lock = threading.Lock()

        def poll() -> None:
            poller = requests.Session()
            while not done.is_set():
                try:
                    ready = poller.get(f"{base}/ready", timeout=5).json()
                    reached = ready["projections"][0]["position"]
                except (requests.RequestException, KeyError, IndexError, ValueError) as error:
                    errors.append(repr(error))
                    continue
                now = time.perf_counter()
                with lock:
                    for position, _ in acknowledged:
                        if position <= reached and position not in visible_at:
                            visible_at[position] = now
                time.sleep(0.005)

        watcher = threading.Thread(target=poll, daemon=True)
        watcher.start()
        interval = 1 / args.rate
        sessions = threading.local()

        def send(n: int) -> None:
            if not hasattr(sessions, "session"):
                sessions.session = requests.Session()
                sessions.session.headers["Authorization"] = f"Bearer {KEY}"
            time.sleep(max(0.0, started + n * interval - time.perf_counter()))
            response = sessions.session.post(
                f"{base}/incidents/{ids[n % 20]}/statements", json=statement
            )
            assert response.status_code == 201, response.text
            with lock:
                acknowledged.append((response.json()["position"], time.perf_counter()))
                acknowledged.sort()

        started = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(send, range(int(args.rate * args.seconds))))
        sent_for = time.perf_counter() - started
        deadline = time.perf_counter() + 30
        while len(visible_at) < len(acknowledged) and time.perf_counter() < deadline:
            time.sleep(0.05)
        done.set()
        watcher.join()
    lags = [visible_at[p] - t for p, t in acknowledged if p in visible_at]
    if errors:
        print(f"{len(errors)} failed polls, first: {errors[0]}")
    print(
        f"backend: {args.backend}; {len(acknowledged)} statements "
        f"at {len(acknowledged) / sent_for:.0f}/s"
    )
    print(
        f"lag append→visible: p50 {percentile(lags, 50) * 1000:.0f} ms, "
        f"p99 {percentile(lags, 99) * 1000:.0f} ms, max {max(lags) * 1000:.0f} ms "
        f"(target p99 < 1000 ms); {len(acknowledged) - len(lags)} never seen"
    )


if __name__ == "__main__":
    main()

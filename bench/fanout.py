"""Webhook fan-out: N subscriptions x M events to loopback receivers, through real workers.

    python bench/fanout.py [--backend sqlite|postgres] [--subscriptions 10] [--events 10000]
                           [--workers 2] [--rate 0]

Events are appended in this process (``--rate`` events/s, 0 = in batches as fast as possible);
`timeline worker` processes dispatch and deliver them to one loopback receiver per subscription
(threads in this process; ``--receiver-delay`` makes each answer take that long, like a receiver
across a network). Latency = the moment a receiver got a delivery minus the event's
recorded time (the body's ``timestamp``). Worker memory is sampled from /proc during the run.

Baseline, same process and receivers: signing + posting the same bodies with the service's own
sender in a plain loop (no queue, no database), i.e. what one process could send at best.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from common import deployment, env_of, percentile

from tests.e2e.processes import start, stop
from tests.factories import an_incident
from timeline.bootstrap import build
from timeline.webhooks.sender import post
from timeline.webhooks.signing import signed_headers


class Listening(ThreadingHTTPServer):
    """The standard library's server with a real listen backlog (its default of 5 drops SYNs
    under concurrent senders, and every dropped SYN costs the sender a 1 s retransmit)."""

    request_queue_size = 128
    daemon_threads = True


class Counting:
    """A receiver that notes when each delivery arrived (no verification: not the subject)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.arrivals: dict[str, float] = {}
        self.latencies: list[float] = []
        self.lock = threading.Lock()
        counting = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                now = datetime.now(UTC)
                sent = datetime.fromisoformat(json.loads(body)["timestamp"])
                with counting.lock:
                    if self.headers["webhook-id"] not in counting.arrivals:
                        counting.arrivals[self.headers["webhook-id"]] = time.monotonic()
                        counting.latencies.append((now - sent).total_seconds())
                if delay:
                    time.sleep(delay)  # a receiver across a network, not on loopback
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = Listening(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def rss_of(pid: int) -> float:
    """Resident memory of a process (and nothing else), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--subscriptions", type=int, default=10)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument(
        "--receiver-delay", type=float, default=0.0, help="seconds each receiver waits to answer"
    )
    args = parser.parse_args()

    with deployment(args.backend) as base_settings:
        settings = base_settings.with_changes(webhook_allow_private=True)
        services = build(settings)
        services.app.on_append = lambda position: None  # the workers' sweep finds the log
        receivers = [Counting(args.receiver_delay) for _ in range(args.subscriptions)]
        for receiver in receivers:
            services.subscriptions.create(
                {"url": receiver.url, "event_types": ["incident.reported"]}, services.app.head()
            )
        env = env_of(settings) | {
            "TIMELINE_WEBHOOK_ALLOW_PRIVATE": "yes",
            "TIMELINE_SWEEP_INTERVAL": "0.2",
        }
        log_dir = settings.data_dir.parent
        workers = [start(["worker"], env, log_dir / f"worker{n}.log") for n in range(args.workers)]
        peak_rss = [0.0]
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.is_set():
                peak_rss[0] = max(peak_rss[0], max(rss_of(w.pid) for w in workers))
                time.sleep(0.5)

        threading.Thread(target=sample, daemon=True).start()
        time.sleep(2)  # workers up
        started = time.monotonic()
        appended = 0
        while appended < args.events:
            chunk = 1 if args.rate else min(500, args.events - appended)
            services.app.apply_batch([an_incident() for _ in range(chunk)])
            services.runner.trigger()
            appended += chunk
            if args.rate:
                time.sleep(max(0.0, started + appended / args.rate - time.monotonic()))
        appended_for = time.monotonic() - started
        expected = args.events * args.subscriptions
        deadline = time.monotonic() + 1800
        while sum(len(r.arrivals) for r in receivers) < expected and time.monotonic() < deadline:
            time.sleep(0.1)
        finished = max(max(r.arrivals.values(), default=started) for r in receivers)
        sampling.set()
        rss_end = max(rss_of(w.pid) for w in workers)
        for worker in workers:
            stop(worker, signal.SIGTERM)
        delivered = sum(len(r.arrivals) for r in receivers)
        took = finished - started
        latencies = [x for r in receivers for x in r.latencies]

        # Baseline: the same sender, signing and posting the same kind of body in a loop.
        body = json.dumps({"type": "incident.reported", "timestamp": datetime.now(UTC).isoformat()})
        secret = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
        sample_count = 2000
        bare_started = time.monotonic()
        for n in range(sample_count):
            headers = signed_headers(f"msg_{n}", [secret], body, datetime.now(UTC))
            post(receivers[0].url, body.encode(), headers, timeout=10, allow_private=True)
        bare_rate = sample_count / (time.monotonic() - bare_started)
        services.close()

    rate = delivered / took
    print(
        f"backend {args.backend}; {args.subscriptions} subscriptions x {args.events} events "
        f"(appended in {appended_for:.1f} s); {args.workers} worker processes; "
        f"receivers answer after {args.receiver_delay * 1000:.0f} ms"
    )
    print(
        f"delivered {delivered}/{expected} in {took:.1f} s: {rate:.0f} deliveries/s; "
        f"bare sender loop {bare_rate:.0f}/s; ratio {rate / bare_rate:.2f}"
    )
    print(
        f"append→receipt latency: p50 {percentile(latencies, 50) * 1000:.0f} ms, "
        f"p95 {percentile(latencies, 95) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
    )
    print(f"worker RSS: peak {peak_rss[0]:.0f} MB, at end {rss_end:.0f} MB")


if __name__ == "__main__":
    main()

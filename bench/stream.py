"""The live feed under load: N streams held open while /health and /timeline are polled.

    python bench/stream.py [--clients 500] [--polls 200]

Serves the demo with `timeline serve` (2 web workers, SQLite, the configured Redis), then in
one run: the polls with no stream open (the baseline), and the same polls while ``--clients``
live-feed clients hold their streams open (each has read its first frame). Prints p50/p99 of
each poll (target: p99 < 200 ms with the streams open) and the web workers' resident memory
per open stream. A statement written meanwhile must reach every stream.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests
from common import REDIS_URL, clean_env

ROOT = Path(__file__).resolve().parent.parent
PORT = 8766


def rss_mb(pids: list[int]) -> float:
    """Resident memory of these processes, in MB."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))
    return total / 1024


def children(pid: int) -> list[int]:
    """A process's children."""
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(child) for child in out.split()]


def web_workers(serve: int) -> list[int]:
    """The gunicorn workers of `timeline serve` (the children of its gunicorn arbiter)."""
    (arbiter,) = [
        c for c in children(serve) if b"gunicorn" in Path(f"/proc/{c}/cmdline").read_bytes()
    ]
    return children(arbiter)


def polls(url: str, count: int) -> dict[str, list[float]]:
    """Milliseconds of ``count`` GETs of /health and of /timeline, alternating."""
    took: dict[str, list[float]] = {"health": [], "timeline": []}
    with requests.Session() as session:
        for _ in range(count):
            for name, path in (("health", "/health"), ("timeline", "/timeline?limit=20")):
                started = time.perf_counter()
                assert session.get(url + path, timeout=10).ok
                took[name].append((time.perf_counter() - started) * 1000)
    return took


async def hold_streams(url: str, count: int, opened: asyncio.Event, done: asyncio.Event,
                       received: list[int]) -> None:  # fmt: skip
    """Open ``count`` streams, wait for each one's first frame, hold them until ``done``."""
    parts = urlsplit(url)

    async def one() -> None:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(f"GET {parts.path}/events/stream?after=0 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        await writer.drain()
        await reader.readuntil(b"retry: 1000")
        ready.append(1)
        if len(ready) == count:
            opened.set()
        seen = 0
        while not done.is_set():
            try:
                chunk = await asyncio.wait_for(reader.read(65536), 0.5)
            except TimeoutError:
                continue
            seen += chunk.count(b"StatementRecorded")
        received.append(seen)
        writer.close()

    ready: list[int] = []
    await asyncio.gather(*(one() for _ in range(count)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--polls", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="timeline-stream-") as tmp:
        env = clean_env(data_dir=str(Path(tmp) / "var"), redis_url=REDIS_URL,
                        queue=f"bench-s-{os.getpid()}")  # fmt: skip
        env["TIMELINE_API_KEYS"] = "write:bench-write-key"
        env["TIMELINE_RATE_LIMIT"] = "off"
        env["TIMELINE_STREAM_MAX_PER_CALLER"] = str(args.clients)  # (all from one address)
        serve = subprocess.Popen(
            [sys.executable, "-m", "cli", "serve", "--demo", "--port", str(PORT),
             "--web-workers", "2"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"http://127.0.0.1:{PORT}/api/v1"
        try:
            for _ in range(120):
                try:
                    if requests.get(url + "/health", timeout=1).ok:
                        break
                except requests.RequestException:
                    time.sleep(0.5)
            polls(url, 20)  # warm up
            pids = web_workers(serve.pid)
            quiet = polls(url, args.polls)
            memory_before = rss_mb(pids)
            loaded, memory_after, received = asyncio.run(
                under_streams(url, args.clients, args.polls, pids)
            )
        finally:
            serve.terminate()
            serve.wait(30)
    print(f"{args.clients} live-feed clients held open, 2 web workers, SQLite")
    for name in ("health", "timeline"):
        for label, took in (("no streams", quiet[name]), ("streams open", loaded[name])):
            ordered = sorted(took)
            p99 = ordered[int(len(ordered) * 0.99) - 1]
            print(f"  /{name:8} {label:13} p50 {statistics.median(took):6.1f} ms  "
                  f"p99 {p99:6.1f} ms")  # fmt: skip
    per = (memory_after - memory_before) * 1024 / args.clients
    print(f"  web workers' memory: {memory_before:.0f} MB -> {memory_after:.0f} MB "
          f"({per:.0f} KB per stream)")  # fmt: skip
    print(f"  a statement written meanwhile reached {sum(1 for r in received if r)} of "
          f"{args.clients} streams")  # fmt: skip


async def under_streams(
    url: str, clients: int, count: int, pids: list[int]
) -> tuple[dict[str, list[float]], float, list[int]]:
    """The polls (in a thread) while ``clients`` streams are held open."""
    opened, done = asyncio.Event(), asyncio.Event()
    received: list[int] = []
    holding = asyncio.create_task(hold_streams(url, clients, opened, done, received))
    await asyncio.wait_for(opened.wait(), 120)
    memory = rss_mb(pids)
    took = await asyncio.to_thread(polls, url, count)
    demo = requests.get(url + "/incidents?limit=1", timeout=10).json()["items"][0]["id"]
    written = requests.post(
        f"{url}/incidents/{demo}/statements",
        json={"source": {"name": "Bench", "side": "independent", "type": "journalist"},
              "stance": "claim", "text": "A statement for the streams.",
              "stated_at": "2023-01-09T10:00:00Z"},
        headers={"Authorization": "Bearer bench-write-key"}, timeout=10,
    )  # fmt: skip
    assert written.status_code == 201, written.text
    await asyncio.sleep(3)
    done.set()
    await holding
    return took, memory, received


if __name__ == "__main__":
    main()

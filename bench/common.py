"""Shared bench helpers: a throwaway deployment, a served API, memory and percentiles."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from tests.e2e.processes import clean_env, serving
from timeline.config import Settings

POSTGRES_URL = os.environ.get(
    "TIMELINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("TIMELINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
KEY = "bench-write-key"


@contextmanager
def deployment(backend: str) -> Iterator[Settings]:
    """Settings for an empty deployment on the backend (a temp dir, or a temp PG schema)."""
    with tempfile.TemporaryDirectory(prefix="timeline-bench-") as tmp:
        settings = Settings(
            data_dir=Path(tmp) / "var",
            redis_url=REDIS_URL,
            api_keys={KEY: "write"},
            queue_name=f"bench-{os.getpid()}",
        )
        if backend == "sqlite":
            yield settings
            return
        schema = f"bench_{os.getpid()}"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            connection.execute(f"CREATE SCHEMA {schema}")
        try:
            yield settings.with_changes(database_url=POSTGRES_URL, database_schema=schema)
        finally:
            with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
                connection.execute(f"DROP SCHEMA {schema} CASCADE")


def env_of(settings: Settings) -> dict[str, str]:
    """Environment variables reproducing ``settings`` in a child process."""
    values = {
        "data_dir": str(settings.data_dir),
        "redis_url": settings.redis_url or "",
        "queue": settings.queue_name,
        "api_keys": f"write:{KEY}",
        "rate_limit": "off",  # the benches measure throughput, not the limiter
    }
    if settings.database_url:
        values |= {
            "database_url": settings.database_url,
            "database_schema": settings.database_schema,
        }
    return clean_env(**values)


@contextmanager
def served(settings: Settings, *args: str) -> Iterator[str]:
    """`timeline serve` on a free port; yields the API base URL."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with serving(list(args), env_of(settings), settings.data_dir.parent / "serve.log") as base:
        yield base


def rss_mb() -> float:
    """Resident memory of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0-100) of the values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def rate(count: int, seconds: float) -> float:
    """Items per second."""
    return count / seconds if seconds > 0 else float("inf")


ROOT = Path(__file__).resolve().parent.parent
# Runs the CLI, then writes its own peak resident memory (kB, VmHWM) to argv[1]. (ru_maxrss
# will not do: Linux keeps it across exec, so a child of the bench starts at the bench's own.)
PEAK_OF_CLI = """
import atexit, runpy, sys
out = sys.argv.pop(1)
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            open(out, "w").write(line.split()[1])
atexit.register(peak)
sys.argv[0] = "cli"
runpy.run_module("cli", run_name="__main__")
"""


def cli(env: dict[str, str], *args: str, profile: str | None = None) -> tuple[float, float]:
    """Seconds and peak resident memory (MB) of `timeline ARGS` as a child process
    (``profile``: write a cProfile of it there instead of measuring its memory)."""
    with tempfile.NamedTemporaryFile("r", suffix=".peak") as peak:
        command = [sys.executable, "-c", PEAK_OF_CLI, peak.name, *args]
        if profile:
            command = [sys.executable, "-m", "cProfile", "-o", profile, "-m", "cli", *args]
        started = time.perf_counter()
        # (in a directory of its own: an import writes its problems report where it runs)
        with tempfile.TemporaryDirectory(prefix="timeline-cli-") as where:
            subprocess.run(command, cwd=where, env={**env, "PYTHONPATH": str(ROOT)},
                           check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)  # fmt: skip
        seconds = time.perf_counter() - started
        kilobytes = peak.read().strip()
    return seconds, int(kilobytes or 0) / 1024

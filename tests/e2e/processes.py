"""Starting and stopping the real processes that end-to-end tests talk to."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import requests

from timeline.config import Settings


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def clean_env(**timeline: str) -> dict[str, str]:
    """The current environment without TIMELINE_* variables, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMELINE_")}
    env.update({f"TIMELINE_{k.upper()}": v for k, v in timeline.items()})
    return env


def env_for(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process use the same stores as ``settings``."""
    values = {
        "data_dir": str(settings.data_dir),
        "redis_url": settings.redis_url or "",
        "queue": settings.queue_name,
        "projection_batch_size": str(settings.projection_batch_size),
        "lock_timeout": str(settings.lock_timeout),
        "sweep_interval": "0.5",
        "webhook_allow_private": "yes" if settings.webhook_allow_private else "no",
        "webhook_retry_schedule": ",".join(str(d) for d in settings.webhook_retry_schedule),
        "webhook_timeout": str(settings.webhook_timeout),
    }
    if settings.database_url:
        values |= {
            "database_url": settings.database_url,
            "database_schema": settings.database_schema,
        }
    return clean_env(**values)


def start(args: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Run ``python -m cli ARGS`` in its own process group, output to a log file."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "cli", *args],
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Signal the process group and wait; kill it if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def wait_until(check: Callable[[], object], timeout: float, what: str) -> object:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
        except requests.RequestException:
            result = None
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@contextmanager
def serving(args: list[str], env: Mapping[str, str], log: Path) -> Iterator[str]:
    """`timeline serve ARGS` on a free port until the block ends; yields the API base URL."""
    port = free_port()
    process = start(["serve", "--port", str(port), *args], env, log)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        wait_until(lambda: requests.get(f"{base}/health", timeout=1).ok, 60, "the server to start")
        yield base
    finally:
        stop(process)

"""`timeline serve` keeps its children running and takes all of them down when stopped."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import requests

from tests.e2e.processes import clean_env, free_port, start, stop, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.own_services]


def descendants(pid: int, depth: int = 99) -> dict[int, str]:
    """Every process under ``pid`` (children, theirs… down to ``depth``), by pid, with its
    command line."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = {}, [(pid, 0)]
    while frontier:
        parent, level = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found and level < depth:
                try:
                    found[child] = (Path("/proc") / str(child) / "cmdline").read_bytes().decode()
                except OSError:
                    continue
                frontier.append((child, level + 1))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_a_killed_child_is_restarted_and_stopping_leaves_no_orphan(tmp_path: Path) -> None:
    port = free_port()
    # the embedded Redis (no TIMELINE_REDIS_URL): a redis-server child of its own
    env = clean_env(data_dir=str(tmp_path / "var"))
    log = tmp_path / "serve.log"
    serve = start(["serve", "--port", str(port), "--workers", "1"], env, log)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        wait_until(lambda: requests.get(f"{base}/health", timeout=1).ok, 60, "the server")

        def rq_workers() -> list[int]:
            return [p for p, cmd in descendants(serve.pid, 1).items() if "cli\0worker" in cmd]

        wait_until(lambda: len(descendants(rq_workers()[0])) > 0 if rq_workers() else None, 30,
                   "the RQ worker's scheduler")  # fmt: skip
        (worker,) = rq_workers()
        left_behind = list(descendants(worker))  # its scheduler
        seen = set(descendants(serve.pid))
        os.kill(worker, signal.SIGKILL)

        wait_until(lambda: rq_workers() and rq_workers() != [worker], 30, "a new RQ worker")
        assert requests.get(f"{base}/health", timeout=3).ok  # the API never went down
        wait_until(lambda: not any(alive(p) for p in left_behind), 10, "the orphan to go")
        assert "RQ worker 1 (pid" in log.read_text() and "restarting it in" in log.read_text()
        seen |= set(descendants(serve.pid))
    finally:
        stop(serve)
        print(log.read_text()[-3000:])
    assert serve.returncode == 0
    assert [p for p in seen if alive(p)] == []  # no gunicorn, RQ, scheduler or redis-server left

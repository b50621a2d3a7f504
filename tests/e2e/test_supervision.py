"""`timeline serve` keeps its children running and takes all of them down when stopped.

Each child is killed in turn (the embedded Redis, the gunicorn master, an RQ worker): the
service answers again within 10 s and what was written meanwhile is projected. And whatever
ends `timeline serve` (SIGTERM, SIGINT, SIGKILL; or `make run` stopped), none of its processes
is left running.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from functools import partial
from pathlib import Path
from typing import Any

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


KEY = "supervision-write-key"
REPO = Path(__file__).resolve().parents[2]


def child_pid(base: str, kind: str) -> int | None:
    """The pid /ready names for the (first) running child of ``kind``, if one runs."""
    children = requests.get(f"{base}/ready", timeout=3).json()["children"]
    running = (c["pid"] for c in children if c["kind"] == kind and c["state"] == "running")
    return next(running, None)


def report(base: str, title: str) -> Any:
    body = {"title": title, "kind": "strike", "occurred": {"start": "2024-03-01T10:00:00Z"},
            "location": {"name": "Kharkiv", "country": "UA"}}  # fmt: skip
    answer = requests.post(f"{base}/incidents", json=body, timeout=10,
                           headers={"Authorization": f"Bearer {KEY}"})  # fmt: skip
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def replaced(base: str, kind: str, victim: int) -> bool:
    """A child of ``kind`` runs, and it is not ``victim``."""
    return child_pid(base, kind) not in (None, victim)


def listed(base: str, incident: str) -> bool:
    page = requests.get(f"{base}/timeline", params={"incident": incident}, timeout=3).json()
    return bool(page["items"])


def test_each_child_killed_is_back_within_10_s_and_nothing_written_meanwhile_is_lost(
    tmp_path: Path,
) -> None:
    port = free_port()
    # A worker killed in the middle of a job leaves its flag and locks to expire (at most the
    # lock timeout, 30 s by default); 5 s here keeps the test short.
    env = clean_env(data_dir=str(tmp_path / "var"), api_keys=f"write:{KEY}", lock_timeout="5")
    log = tmp_path / "serve.log"
    serve = start(["serve", "--port", str(port), "--workers", "1", "--web-workers", "1"], env, log)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        wait_until(lambda: requests.get(f"{base}/ready", timeout=1).ok, 60, "the server")
        for kind in ("redis", "gunicorn", "rq-worker"):
            victim = child_pid(base, kind)
            assert victim is not None
            os.kill(victim, signal.SIGKILL)
            killed = time.monotonic()
            if kind == "redis":  # the API stays up: the write is acknowledged during the fault
                during = report(base, "written while Redis was down")
            wait_until(partial(replaced, base, kind, victim), 10, f"a new {kind}")
            assert time.monotonic() - killed < 10, kind
            if kind != "redis":  # its API (gunicorn) or its projections (worker) were away
                during = report(base, f"written after the {kind} was killed")
            wait_until(partial(listed, base, during), 30, f"the write of the {kind} fault")
        metrics = requests.get(f"{base}/metrics", timeout=3).text
        counted = re.findall(r'timeline_child_restarts_total\{.*kind="([\w-]+)"\} (\S+)', metrics)
        restarts = {kind: float(count) for kind, count in counted}
        # (at least once: a worker may also have stopped while its Redis was away)
        assert all(restarts[kind] >= 1 for kind in ("redis", "gunicorn", "rq-worker")), restarts
        ready = requests.get(f"{base}/ready", timeout=3).json()
        assert ready["redis"] == "ok" and ready["workers"] == {"alive": 1, "expected": 1}
    finally:
        stop(serve)
        print(log.read_text()[-3000:])
    assert serve.returncode == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_nothing_outlives_serve_however_it_ends(tmp_path: Path, sig: signal.Signals) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    serve = start(["serve", "--port", str(port), "--workers", "1", "--web-workers", "1"],
                  clean_env(data_dir=str(tmp_path / "var")), log)  # fmt: skip
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        wait_until(lambda: requests.get(f"{base}/ready", timeout=1).ok, 60, "the server")
        worker = child_pid(base, "rq-worker")
        assert worker is not None
        wait_until(lambda: descendants(worker), 30, "the RQ worker's scheduler")
        tree = descendants(serve.pid)
        assert any("redis-server" in cmd for cmd in tree.values())  # the embedded Redis
        os.kill(serve.pid, sig)  # the leader alone, as the OOM killer or a `kill` would
        serve.wait(timeout=10)
        wait_until(lambda: not any(alive(p) for p in tree), 10, "every child to be gone")
    finally:
        stop(serve)
    if sig != signal.SIGKILL:
        assert serve.returncode == 0, log.read_text()[-2000:]


def test_make_run_stopped_leaves_nothing_running(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(data_dir=str(tmp_path / "var"))
    with open(tmp_path / "make.log", "wb") as out:
        make = subprocess.Popen(
            ["make", "-s", "run", f"PORT={port}"], cwd=REPO, env=env,
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        wait_until(lambda: requests.get(f"{base}/ready", timeout=1).ok, 90, "make run")
        tree = descendants(make.pid)
        make.send_signal(signal.SIGTERM)  # make passes it on to the recipe
        make.wait(timeout=10)
        wait_until(lambda: not any(alive(p) for p in tree), 10, "every process of make run")
    finally:
        stop(make)
    assert "stopping" not in (tmp_path / "make.log").read_text()  # it was told to, not failing

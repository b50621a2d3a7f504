"""Keeping `timeline serve`'s children running, and taking all of them down together.

Each child (the embedded Redis, the gunicorn master, each RQ worker) that exits is started
again after a pause that doubles with each quick failure (1 s up to 30 s; a child that ran for
a minute starts over at 1 s), with a log line; one that keeps failing quickly
(``MAX_QUICK_FAILURES`` in a row) cannot be kept up, and then the whole service stops, saying
why, with a non-zero exit. Each child runs in its own process group, so whatever it started
(the scheduler an RQ worker forks, gunicorn's workers) goes with it; and on Linux each child
is told to die with the supervisor (``PR_SET_PDEATHSIG``), so even a SIGKILLed `timeline
serve` leaves nothing running behind it.

What the children are doing is written to a status file (``Supervisor.status_path``) on every
change: `/ready` and `/metrics` read it there (the API runs in other processes).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# A child that ran this long before exiting is restarted at once, as if it never failed.
HEALTHY_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 30.0
# This many quick failures in a row (about a minute of trying) and the child cannot be kept up.
MAX_QUICK_FAILURES = 6
STOP_SECONDS = 10.0
PR_SET_PDEATHSIG = 1


@dataclass
class Child:
    """One supervised command; ``kind`` groups alike children (``rq-worker``) for `/ready`."""

    name: str
    command: Sequence[str]
    kind: str = ""
    serves_others: bool = False  # stopped after the others (the embedded Redis)
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    quick_failures: int = 0
    restarts: int = 0
    last_exit: int | None = None
    start_at: float = 0.0  # when to start it (again)

    def describe(self) -> dict[str, Any]:
        """The child as `/ready` names it."""
        running = self.process is not None and self.process.poll() is None
        return {
            "name": self.name,
            "kind": self.kind or self.name,
            "state": "running" if running else "restarting",
            "pid": self.process.pid if running and self.process else None,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
        }


class Supervisor:
    """Runs children until told to stop; restarts any that exits, with backoff."""

    def __init__(
        self,
        children: Sequence[Child],
        env: Mapping[str, str],
        say: Callable[[str], None] = print,
        status_path: Path | None = None,
        first_delay: float = 1.0,
    ) -> None:
        self.children = list(children)
        self.first_delay = first_delay
        self.env = dict(env)
        self.say = say
        self.status_path = status_path
        self.stopping = False
        self.gave_up: str | None = None

    def run(self, poll: float = 0.2) -> int:
        """Supervise until SIGTERM or SIGINT (0) or until a child cannot be kept up (1), then
        stop every child and what it started; the exit status for the process."""
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        try:
            self.tend_until_stopped(poll)
        finally:
            self.stop_all()
        if self.gave_up is not None:
            self.say(f"stopping: {self.gave_up}")
            return 1
        return 0

    def tend_until_stopped(self, poll: float = 0.2) -> None:
        """Tend the children until told to stop or until one cannot be kept up."""
        while not self.stopping and self.gave_up is None:
            self.tend(time.monotonic())
            time.sleep(poll)

    def start(self, child: Child, now: float) -> None:
        """Start ``child`` now, in its own process group, to die with this process."""
        child.process = subprocess.Popen(
            child.command,
            env=self.env,
            start_new_session=True,
            preexec_fn=_dying_with(os.getpid()),
        )
        child.started_at = now
        self.write_status()

    def tend(self, now: float) -> None:
        """Start the children that are due; note and schedule the ones that exited."""
        for child in self.children:
            if child.process is None:
                if now >= child.start_at:
                    self.start(child, now)
                continue
            code = child.process.poll()
            if code is None:
                continue
            _signal_group(child.process, signal.SIGTERM)  # what it left behind
            pid, ran = child.process.pid, now - child.started_at
            child.quick_failures = 0 if ran >= HEALTHY_SECONDS else child.quick_failures + 1
            child.process, child.last_exit = None, code
            if child.quick_failures >= MAX_QUICK_FAILURES:
                self.gave_up = (
                    f"{child.name} exited {child.quick_failures} times in a row within "
                    f"{HEALTHY_SECONDS:.0f} s of starting (last: code {code}); it cannot be "
                    "kept up"
                )
                return
            delay = min(
                self.first_delay * 2.0 ** max(child.quick_failures - 1, 0), MAX_BACKOFF_SECONDS
            )
            child.start_at, child.restarts = now + delay, child.restarts + 1
            self.say(
                f"{child.name} (pid {pid}) exited with code "
                f"{code} after {ran:.0f} s; restarting it in {delay:.3g} s"
            )
            self.write_status()

    def stop_all(self) -> None:
        """Stop every child within STOP_SECONDS: those the others use (``serves_others``, the
        embedded Redis) after the others, so a worker's last words still reach it."""
        deadline = time.monotonic() + STOP_SECONDS
        for last in (False, True):
            wave = [c for c in self.children if c.serves_others == last]
            self._stop_wave([c.process for c in wave if c.process is not None], deadline)
        if self.status_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.status_path.unlink()

    @staticmethod
    def _stop_wave(processes: list[subprocess.Popen[bytes]], deadline: float) -> None:
        """SIGTERM each, wait for it (until ``deadline``), then SIGKILL what is left of its
        group."""
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            _signal_group(process, signal.SIGKILL)
            process.wait()

    def write_status(self) -> None:
        """Replace the status file with what every child is doing now."""
        if self.status_path is None:
            return
        status = {
            "supervisor": os.getpid(),
            "children": [child.describe() for child in self.children],
        }
        partial = self.status_path.with_suffix(".partial")
        partial.write_text(json.dumps(status))
        partial.replace(self.status_path)

    def _stop(self, *_: object) -> None:
        self.stopping = True


def read_status(path: Path | None) -> dict[str, Any] | None:
    """The status a supervisor wrote at ``path`` (None: no supervisor, or it is gone)."""
    if path is None:
        return None
    try:
        status: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return status


def _dying_with(parent: int) -> Callable[[], None]:
    """What a child runs before its command: ask Linux for a SIGTERM when its parent dies
    (and if the parent died already, while it was being started, go at once)."""

    def arrange() -> None:
        if sys.platform.startswith("linux"):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:
            os._exit(1)

    return arrange


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    """Signal every process left in a child's process group (its own id)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)

"""Keeping `timeline serve`'s children running, and taking all of them down together.

One dead child (an RQ worker killed by the OOM killer, say) used to stop the whole service,
leaving the worker's RQ scheduler running as an orphan. Now a child that exits is started
again after a pause that doubles with each quick failure (1 s up to 30 s; a child that ran for
a minute starts over at 1 s), and each child runs in its own process group, so whatever it
started — the scheduler an RQ worker forks, gunicorn's workers — goes with it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

# A child that ran this long before exiting is restarted at once, as if it never failed.
HEALTHY_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 30.0
STOP_SECONDS = 10.0


@dataclass
class Child:
    """One supervised command."""

    name: str
    command: Sequence[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    quick_failures: int = 0
    start_at: float = 0.0  # when to start it (again)


class Supervisor:
    """Runs children until told to stop; restarts any that exits, with backoff."""

    def __init__(
        self,
        children: Sequence[Child],
        env: Mapping[str, str],
        say: Callable[[str], None] = print,
    ) -> None:
        self.children = list(children)
        self.env = dict(env)
        self.say = say
        self.stopping = False

    def run(self, poll: float = 0.2) -> None:
        """Supervise until SIGTERM or SIGINT, then stop every child and what it started."""
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        try:
            while not self.stopping:
                self.tend(time.monotonic())
                time.sleep(poll)
        finally:
            self.stop_all()

    def tend(self, now: float) -> None:
        """Start the children that are due; note and schedule the ones that exited."""
        for child in self.children:
            if child.process is None:
                if now >= child.start_at:
                    child.process = subprocess.Popen(
                        child.command, env=self.env, start_new_session=True
                    )
                    child.started_at = now
                continue
            code = child.process.poll()
            if code is None:
                continue
            _signal_group(child.process, signal.SIGTERM)  # what it left behind
            pid, ran = child.process.pid, now - child.started_at
            child.quick_failures = 0 if ran >= HEALTHY_SECONDS else child.quick_failures + 1
            delay = min(2.0 ** max(child.quick_failures - 1, 0), MAX_BACKOFF_SECONDS)
            child.process, child.start_at = None, now + delay
            self.say(
                f"{child.name} (pid {pid}) exited with code "
                f"{code} after {ran:.0f} s; restarting it in {delay:.0f} s"
            )

    def stop_all(self) -> None:
        """SIGTERM each child, wait for it, then SIGKILL whatever is left of its group."""
        running = [c.process for c in self.children if c.process is not None]
        for process in running:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + STOP_SECONDS
        for process in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            _signal_group(process, signal.SIGKILL)
            process.wait()

    def _stop(self, *_: object) -> None:
        self.stopping = True


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    """Signal every process left in a child's process group (its own id)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)

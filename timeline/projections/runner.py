"""Running projections in the background: one coalesced catch-up job for all of them, sweeps.

One job catches every projection up: it reads each batch of the log once and applies it to each
projection in turn (each in its own transaction with its own position), so decoding is paid once
and no projection waits behind another's job. A *pending* flag in Redis means "a job is queued
or running, and will look at the log again before it stops". Appends set it with NX and enqueue a
job only when they set it, so appends made while a job runs cost one Redis round trip and no
job. The job clears the flag only once the log is drained, then looks at the log head once more,
so an append that committed just before the flag was cleared is never left behind.

Each projection also has a Redis lock: a job holds the locks of the projections it works on, and
skips one whose lock is taken (a rebuild, or an overlapping job). Both keys expire, so a killed
worker delays the next run by at most the lock timeout. A projection that fails on an event is
set aside for the rest of the job (the job then fails so RQ records it); the others carry on.
It is applied up to the event it cannot apply and recorded as stopped there
(:mod:`~timeline.projections.failures`); the sweep tries it again after a growing pause. The
loop itself is :func:`framework.catch_up`, shared with `timeline rebuild`.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import redis
from eventsourcing.application import Application
from redis.lock import Lock

from timeline.event_log import head_position
from timeline.projections.beside import rebuild_beside
from timeline.projections.framework import (
    Projection,
    Status,
    catch_up,
    position,
    status,
)
from timeline.projections.sql import ViewDatabase

log = logging.getLogger(__name__)

# A job stops lingering after this long, so one job never runs for ever under steady load.
MAX_JOB_SECONDS = 60.0


class ProjectionsFailed(Exception):
    """Some projections could not apply an event; the others were caught up regardless."""


class ProjectionRunner:
    """Triggers, runs, rebuilds and sweeps the projections of one deployment."""

    def __init__(
        self,
        app: Application[Any],
        views: ViewDatabase,
        projections: dict[str, Projection],
        connection: Callable[[], redis.Redis],
        enqueue: Callable[[], None],
        batch_size: int = 1000,
        lock_timeout: float = 30.0,
        linger: float = 0.0,
        others_waiting: Callable[[], bool] = lambda: False,
        namespace: str = "timeline",
    ) -> None:
        self.app = app
        self.views = views
        self.projections = projections
        self._redis = connection
        self._enqueue = enqueue
        self.batch_size = batch_size
        self.lock_timeout = lock_timeout
        self.linger = linger
        self._others_waiting = others_waiting
        # Keys are per deployment, so deployments sharing a Redis never share flags or locks.
        self.pending_key = f"{namespace}:pending:projections"
        self.lock_prefix = f"{namespace}:lock:"

    def trigger(self) -> bool:
        """Make sure a job will catch the projections up; True if this call enqueued it."""
        if self._claim():
            self._enqueue()
            return True
        return False

    def _claim(self) -> bool:
        expiry = max(int(self.lock_timeout), 1)
        return bool(self._redis().set(self.pending_key, "1", nx=True, ex=expiry))

    def run_all(self, on_batch: Callable[[int], None] | None = None) -> int:
        """The job: catch every projection up, and keep at it while appends keep arriving.

        Once drained it lingers (``linger`` seconds, polling the log head) before letting go of
        the flag, so under a steady stream of appends one job serves many of them — unless other
        jobs are waiting (webhook deliveries), which it then lets go first.
        """
        connection = self._redis()
        applied = 0
        failed: dict[str, Exception] = {}
        with self._locks() as held:
            if not held:
                return 0  # another run holds every lock; it looks at the head before it stops
            started = time.monotonic()
            while True:
                applied += self._catch_up(held, failed, on_batch)
                lingering = time.monotonic() - started < MAX_JOB_SECONDS
                if lingering and self._more_within(self.linger, held):
                    continue
                connection.delete(self.pending_key)
                healthy = [name for name in held if name not in failed]
                if not healthy or head_position(self.app) <= self._behind(healthy):
                    break  # drained; a later append will claim the flag itself
                if not self._claim():
                    break  # a later append claimed it and enqueued the next job
        if failed:
            raise ProjectionsFailed(
                "; ".join(f"{name}: {error!r}" for name, error in failed.items())
            )
        return applied

    def _catch_up(
        self,
        held: dict[str, Lock],
        failed: dict[str, Exception],
        on_batch: Callable[[int], None] | None,
    ) -> int:
        """One pass of the shared loop over every held, healthy projection."""
        projections = [self.projections[n] for n in held if n not in failed]
        renewed = time.monotonic()

        def renew(reached: int) -> None:
            nonlocal renewed
            if time.monotonic() - renewed > self.lock_timeout / 3:
                self._renew(held)
                renewed = time.monotonic()
            if on_batch is not None:
                on_batch(reached)

        return catch_up(self.app, self.views, projections, self.batch_size, renew, failed)

    def _behind(self, names: list[str]) -> int:
        """The lowest position among these projections (what the job has surely reached)."""
        return min(position(self.views, name) for name in names)

    def _more_within(self, seconds: float, held: dict[str, Lock]) -> bool:
        """Whether new events reach the log within ``seconds`` (polled every 10 ms).

        Gives up at once when other jobs are waiting: a lingering job must not keep a worker
        from webhook deliveries (it is re-triggered by the next append and queues behind them).
        """
        deadline = time.monotonic() + seconds
        reached = max(position(self.views, name) for name in held)
        polls = 0
        while time.monotonic() < deadline:
            if polls % 5 == 0 and self._others_waiting():
                return False
            if head_position(self.app) > reached:
                return True
            polls += 1
            time.sleep(0.01)
        return False

    @contextlib.contextmanager
    def _locks(self) -> Iterator[dict[str, Lock]]:
        """Take every free lock of a runnable projection; release them all at the end.

        A projection whose tables are of another schema version (see ``Status.problem``) is
        not runnable: it waits for an operator, and /ready says so. One stopped by a poison
        event (``Status.stopped``) waits for its next try.
        """
        held: dict[str, Lock] = {}
        blocked = {s.name for s in self.status() if not _runnable_now(s)}
        for name in self.projections:
            if name in blocked:
                continue
            lock = self._lock(name, wait=0)
            if lock.acquire(blocking=False):
                held[name] = lock
        try:
            yield held
        finally:
            for name, lock in held.items():
                _release(lock, name)

    def _renew(self, held: dict[str, Lock]) -> None:
        self._redis().expire(self.pending_key, max(int(self.lock_timeout), 1))
        for lock in held.values():
            lock.reacquire()

    def _lock(self, name: str, wait: float | None) -> Lock:
        return Lock(
            self._redis(),
            self.lock_prefix + name,
            timeout=self.lock_timeout,
            blocking_timeout=wait,
        )

    def run(
        self, name: str, on_batch: Callable[[int], None] | None = None, wait: float | None = None
    ) -> int:
        """Catch one projection up now, waiting for its lock (tests, tools)."""
        with self._exclusive(
            [name], self.lock_timeout if wait is None else wait, on_batch
        ) as renew:
            return catch_up(self.app, self.views, [self.projections[name]], self.batch_size, renew)

    def rebuild(self, names: Sequence[str], on_batch: Callable[[int], None] | None = None) -> int:
        """Rebuild projections from position 0 in one read of the log, beside the live ones,
        which keep serving (and following the log) until the rebuilt ones are swapped in
        (see :mod:`~timeline.projections.beside`)."""
        chosen = [self.projections[name] for name in names]

        def exclusive(held: Sequence[str]) -> Any:
            return self._exclusive(held, self.lock_timeout, on_batch)

        return rebuild_beside(self.app, self.views, chosen, exclusive, self.batch_size, on_batch)

    @contextlib.contextmanager
    def _exclusive(
        self, names: Sequence[str], wait: float, on_batch: Callable[[int], None] | None = None
    ) -> Iterator[Callable[[int], None]]:
        """Hold these projections' locks; yields the per-batch callback, which renews them."""
        held: dict[str, Lock] = {}
        try:
            for name in names:
                lock = self._lock(name, wait)
                if not lock.acquire():
                    raise TimeoutError(f"projection {name} is locked by another run")
                held[name] = lock

            def renew(reached: int) -> None:
                for lock in held.values():
                    lock.reacquire()
                if on_batch is not None:
                    on_batch(reached)

            yield renew
        finally:
            for name, lock in held.items():
                _release(lock, name)

    def sweep(self) -> list[str]:
        """Trigger a job if any projection lags the log: the safety net for lost triggers."""
        behind = [s.name for s in self.status() if s.lag > 0 and _runnable_now(s)]
        if behind:
            self.trigger()
        return behind

    def status(self) -> list[Status]:
        """Position, head and lag of every projection."""
        return status(self.app, self.views, list(self.projections.values()))

    def position(self, name: str) -> int:
        """The log position a projection's reads reflect."""
        return position(self.views, name)

    def wait_for(self, name: str, wanted: int, timeout: float) -> int:
        """Wait (briefly) until a projection has reached a position; returns where it is."""
        deadline = time.monotonic() + timeout
        reached = self.position(name)
        while reached < wanted and time.monotonic() < deadline:
            time.sleep(0.05)
            reached = self.position(name)
        return reached


def _runnable_now(status: Status) -> bool:
    """Neither waiting for an operator's migration nor for the next try after a poison event."""
    return status.problem is None and (status.stopped is None or status.stopped.due())


def _release(lock: Lock, name: str) -> None:
    try:
        lock.release()
    except redis.exceptions.LockError:
        log.warning("lock of projection %s expired before release", name)

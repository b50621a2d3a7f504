"""Running projections in the background: coalesced triggers, one catch-up at a time, sweeps.

A per-projection *pending* flag in Redis means "a job is queued or running, and will look at the
log again before it stops". Appends set it with NX and enqueue a job only when they set it, so
appends made while a job runs cost one Redis round trip and no job. The job clears the flag only
once it has drained the log, then looks at the log head once more, so an append that committed
just before the flag was cleared is never left behind. A Redis lock keeps runs of one projection
apart; both keys expire, so a killed worker delays the next run by at most the lock timeout.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import redis
from eventsourcing.application import Application
from redis.lock import Lock

from timeline.log import head_position
from timeline.projections.catchup import Projection, Status, catch_up, position, rebuild, status
from timeline.projections.sql import ViewDatabase

log = logging.getLogger(__name__)

# A job stops lingering after this long, so one job never runs for ever under steady load.
MAX_JOB_SECONDS = 60.0


class ProjectionRunner:
    """Triggers, runs, rebuilds and sweeps the projections of one deployment."""

    def __init__(
        self,
        app: Application[Any],
        views: ViewDatabase,
        projections: dict[str, Projection],
        connection: Callable[[], redis.Redis],
        enqueue: Callable[[str], None],
        batch_size: int = 1000,
        lock_timeout: float = 30.0,
        linger: float = 0.0,
        others_waiting: Callable[[], bool] = lambda: False,
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

    def trigger(self, names: list[str] | None = None) -> int:
        """Make sure a job will catch these projections up; returns how many jobs it enqueued."""
        enqueued = 0
        for name in names or list(self.projections):
            if self._claim(name):
                self._enqueue(name)
                enqueued += 1
        return enqueued

    def _claim(self, name: str) -> bool:
        expiry = max(int(self.lock_timeout), 1)
        return bool(self._redis().set(_pending_key(name), "1", nx=True, ex=expiry))

    def run(
        self, name: str, on_batch: Callable[[int], None] | None = None, wait: float | None = None
    ) -> int:
        """The job: catch one projection up, and keep at it while appends keep arriving.

        Once drained it lingers (``linger`` seconds, polling the log head) before letting go of
        the flag: under a steady stream of appends one job then serves many of them, instead of
        each job's fixed cost (dequeue, lock, bookkeeping) being paid for a handful of events.
        """
        projection = self.projections[name]
        connection = self._redis()
        applied = 0
        with self._exclusive(name, self.lock_timeout if wait is None else wait, on_batch) as renew:
            started = renewed = time.monotonic()

            def after_batch(reached: int) -> None:
                nonlocal renewed
                if time.monotonic() - renewed > self.lock_timeout / 3:
                    connection.expire(_pending_key(name), max(int(self.lock_timeout), 1))
                    renewed = time.monotonic()
                    renew(reached)
                elif on_batch is not None:
                    on_batch(reached)

            while True:
                applied += catch_up(self.app, self.views, projection, self.batch_size, after_batch)
                lingering = time.monotonic() - started < MAX_JOB_SECONDS
                if lingering and self._more_within(self.linger, name):
                    continue
                connection.delete(_pending_key(name))
                if head_position(self.app) <= position(self.views, name):
                    return applied  # drained; a later append will claim the flag itself
                if not self._claim(name):
                    return applied  # a later append claimed it and enqueued the next job

    def _more_within(self, seconds: float, name: str) -> bool:
        """Whether new events reach the log within ``seconds`` (polled every 10 ms).

        Gives up at once when other jobs are waiting: a lingering job must not keep a worker
        from the other projections or from webhook deliveries (it is re-triggered by the next
        append and queues behind them).
        """
        deadline = time.monotonic() + seconds
        reached = position(self.views, name)
        polls = 0
        while time.monotonic() < deadline:
            if polls % 5 == 0 and self._others_waiting():
                return False
            if head_position(self.app) > reached:
                return True
            polls += 1
            time.sleep(0.01)
        return False

    def rebuild(self, name: str, on_batch: Callable[[int], None] | None = None) -> int:
        """Rebuild one projection from position 0, holding its lock so workers wait meanwhile."""
        with self._exclusive(name, self.lock_timeout, on_batch) as renew:
            return rebuild(self.app, self.views, self.projections[name], self.batch_size, renew)

    @contextlib.contextmanager
    def _exclusive(
        self, name: str, wait: float, on_batch: Callable[[int], None] | None = None
    ) -> Iterator[Callable[[int], None]]:
        """Hold the projection's Redis lock; yields the per-batch callback, which renews it."""
        lock = Lock(
            self._redis(),
            f"timeline:lock:{name}",
            timeout=self.lock_timeout,
            blocking_timeout=wait,
        )
        if not lock.acquire():
            raise TimeoutError(f"projection {name} is locked by another run")

        def renew(reached: int) -> None:
            lock.reacquire()
            if on_batch is not None:
                on_batch(reached)

        try:
            yield renew
        finally:
            try:
                lock.release()
            except redis.exceptions.LockError:
                log.warning("lock of projection %s expired before release", name)

    def sweep(self) -> list[str]:
        """Trigger every projection that lags the log: the safety net for lost triggers."""
        behind = [s.name for s in self.status() if s.lag > 0]
        if behind:
            self.trigger(behind)
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


def _pending_key(name: str) -> str:
    return f"timeline:pending:{name}"

"""The worker process: an RQ worker on the projection and webhook queues, plus the sweep.

The sweep re-triggers any projection that lags the log and any subscription with overdue
deliveries, so a trigger lost while Redis was down (or a job killed mid-run) is made good
within one interval.
"""

from __future__ import annotations

import logging
import threading

from rq import SimpleWorker

from timeline.bootstrap import Services
from workers import jobs

log = logging.getLogger(__name__)


class Sweeper(threading.Thread):
    """Background thread that triggers lagging projections every ``interval`` seconds."""

    def __init__(self, services: Services, interval: float) -> None:
        super().__init__(name="timeline-sweeper", daemon=True)
        self.services = services
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        """Sweep until stopped; errors are logged and the next round tries again."""
        while not self.stopped.wait(self.interval):
            try:
                self.services.runner.sweep()
                self.services.deliverer.sweep()
            except Exception as error:  # Redis or the database may be briefly away
                log.warning("sweep failed: %s", error)


def run_worker(services: Services, *, burst: bool = False, with_scheduler: bool = True) -> None:
    """Run jobs in this process (no fork per job: the services and connections are reused)."""
    jobs.use_services(services)
    services.runner.sweep()
    services.deliverer.sweep()
    sweeper = Sweeper(services, services.settings.sweep_interval)
    if not burst:
        sweeper.start()
    try:
        # Projection jobs first: a slow webhook receiver must not hold the read models back.
        queues = [services.queue(), services.webhook_queue()]
        worker = SimpleWorker(queues, connection=services.redis)
        worker.work(burst=burst, with_scheduler=with_scheduler, logging_level="WARNING")
    finally:
        sweeper.stopped.set()

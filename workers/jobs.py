"""RQ jobs. The API enqueues them by dotted name (``workers.jobs.catch_up``), never by import.

Each worker process builds its services once, on its first job, from the environment.
"""

from __future__ import annotations

from timeline.bootstrap import Services, build
from timeline.config import Settings

_services: Services | None = None


def services() -> Services:
    """This process's services, built on first use (no I/O at import time)."""
    global _services
    if _services is None:
        _services = build(Settings.from_env())
    return _services


def use_services(prepared: Services | None) -> None:
    """Install already-built services (the worker entry point, tests running jobs in-process)."""
    global _services
    _services = prepared


def catch_up() -> int:
    """Bring every projection up to the head of the log; raises so RQ records failures."""
    return services().runner.run_all()


def deliver(subscription_id: str) -> int:
    """Send one subscription's due webhook deliveries; failures are retried on a schedule."""
    return services().deliverer.drain(subscription_id)

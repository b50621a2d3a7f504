"""gunicorn settings for the API, shared by ``timeline serve``, the Dockerfile and compose:
``gunicorn --config python:gunicorn_conf --workers 4 --bind … api.asgi:app``.

uvicorn workers, so a live-feed (SSE) client costs a coroutine rather than a request thread
(requests run in a pool of threads: see api.live); and Prometheus multiprocess mode, so
``/api/v1/metrics`` sums the counts of every worker, not just the one that answered the scrape.

A top-level module, not part of ``api``: importing that package would load prometheus_client
in the arbiter before the metrics directory is set, and each worker would then count alone
while ``/metrics`` read the (empty) directory.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from uvicorn_worker import UvicornWorker

graceful_timeout = 5
worker_class = "gunicorn_conf.Worker"
# gunicorn 25+ opens a control socket in ~/.gunicorn, shared by every gunicorn of the user (two
# services on one machine would take each other's); nothing here uses it. Older versions
# ignore the setting.
control_socket_disable = True


class Worker(UvicornWorker):  # type: ignore[misc]
    """uvicorn's gunicorn worker on asyncio and h11 (no compiled extras), not naming itself
    in a Server header, and ending open streams within the graceful timeout on shutdown."""

    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {
        "loop": "asyncio",
        "http": "h11",
        "server_header": False,
        "timeout_graceful_shutdown": graceful_timeout - 1,
    }


METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"


def on_starting(server: Any) -> None:
    """Give the workers a directory for their metric files before any is forked.

    Metric files an earlier run left in a directory named by the environment are removed
    (they would be counted again); without one, a directory is made for this run.
    """
    named = os.environ.get(METRICS_DIR)
    if not named:
        os.environ[METRICS_DIR] = tempfile.mkdtemp(prefix="timeline-metrics-")
        server.made_metrics_dir = True
        return
    directory = Path(named)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()


def on_exit(server: Any) -> None:
    """Remove the directory made for this run."""
    if getattr(server, "made_metrics_dir", False):
        shutil.rmtree(os.environ[METRICS_DIR], ignore_errors=True)


def child_exit(server: Any, worker: Any) -> None:
    """A dead worker's live gauges stop counting (prometheus_client's gunicorn recipe)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]

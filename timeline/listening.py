"""Whether an address can be listened on, asked before anything is started.

gunicorn, given a taken port, retries, then exits; `timeline serve` restarted it forever while
its banner said "serving", and the tour's curls talked to whatever held the port. Asking the
kernel first turns that into one clear line and a non-zero exit, before anything else starts.
"""

from __future__ import annotations

import errno
import socket


def why_not_listen(host: str, port: int) -> str | None:
    """None when HOST:PORT can be bound now; else why not, in words a person can act on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As gunicorn binds: SO_REUSEADDR, so a port left in TIME_WAIT by the last run is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return f"port {port} on {host} is already in use"
            if error.errno == errno.EACCES:
                return f"port {port} on {host} needs privileges this user does not have"
            return f"cannot listen on {host}:{port}: {error.strerror or error}"
    return None

"""Request ids and the access log: every answer carries ``X-Request-ID``, every request a line.

A caller's own ``X-Request-ID`` is kept when it looks like an id (so a trace can cross services),
otherwise a new one is made. The id is also put in the logging context, so whatever is logged
while the request is handled carries it.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, g, request
from flask.wrappers import Response

from timeline.log_format import REQUEST_ID

log = logging.getLogger("timeline.access")
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _start() -> None:
    offered = request.headers.get("X-Request-ID", "")
    g.request_id = offered if _ACCEPTABLE_ID.match(offered) else uuid.uuid4().hex
    g.request_token = REQUEST_ID.set(g.request_id)
    g.started = time.perf_counter()


def _finish(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id is None:  # the request failed before _start ran
        return response
    response.headers["X-Request-ID"] = request_id
    log.info(
        "%s %s %s",
        request.method,
        request.path,
        response.status_code,
        extra={
            "method": request.method,
            "path": request.path,
            "endpoint": request.endpoint,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - g.started) * 1000, 2),
            "key_id": g.caller.key_id if "caller" in g else None,
        },
    )
    return response


def _forget(_: BaseException | None) -> None:
    token = g.pop("request_token", None)
    if token is not None:
        REQUEST_ID.reset(token)


def install(app: Flask) -> None:
    """Give every request an id, echo it, and log the request when it is answered."""
    app.before_request(_start)
    app.after_request(_finish)
    app.teardown_request(_forget)

"""No request runs with what an earlier request left in its context.

asyncio can carry one request's context variables into the next request on the same keep-alive
connection (CPython issue 140947: a socket reader re-armed while a request's body is read keeps
a copy of that request's context). Flask keeps the app context, and in its ``g`` the caller of
the request, in a context variable, and reuses one it finds: a schemathesis run showed
key-less requests answered as the admin whose large POST had come before on the connection.
Here the ASGI app is called from a context that holds such a leftover, as the next request's
task would be.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from flask import Flask, g

from api.live import LiveFront
from timeline.keys import Caller


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """The storage is beside the point here."""
    return str(request.param)


ADMIN = Caller(key_id="earlier-request", name="earlier admin", scope="admin")


async def _status(front: LiveFront, path: str) -> int:
    """One GET through the ASGI app, without a key: its status."""
    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80),
    }  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await front(scope, receive, send)
    return int(next(m["status"] for m in sent if m["type"] == "http.response.start"))


def test_a_keyless_request_is_refused_whatever_context_it_is_called_from(app: Flask) -> None:
    front = LiveFront(app, threads=2)

    async def after_a_leftover() -> int:
        with app.app_context():  # what the earlier request left behind
            g.caller = ADMIN
            return await _status(front, "/api/v1/subscriptions")

    assert asyncio.run(_status(front, "/api/v1/subscriptions")) == 401
    assert asyncio.run(after_a_leftover()) == 401

"""A real webhook receiver on loopback that checks every delivery with ``standardwebhooks``.

The check uses the package's own ``Webhook.verify`` (not the sender's code path), with the
secrets the test says are valid. Each request is recorded with its headers, body and verdict.
Tests script the answers: a status code, a delay, a ``Retry-After``, or closing the connection.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    """One request as the receiver saw it."""

    headers: dict[str, str]
    body: bytes
    verified_with: list[str]  # which of the receiver's secrets verify it
    answered: int | None

    @property
    def payload(self) -> dict[str, Any]:
        """The JSON body."""
        return json.loads(self.body)  # type: ignore[no-any-return]

    @property
    def webhook_id(self) -> str:
        """The webhook-id header."""
        return self.headers["webhook-id"]


@dataclass
class Answer:
    """How to answer one request."""

    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    hang_up: bool = False


class Receiver:
    """An HTTP server thread; ``script`` answers requests in order, then ``default``."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        self.secrets = list(secrets or [])
        self.received: list[Received] = []
        self.script: list[Answer] = []
        self.default = Answer()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                answer = receiver._next_answer()
                headers = {k.lower(): v for k, v in self.headers.items()}
                verified = [s for s in receiver.secrets if _verifies(s, body, headers)]
                with receiver._lock:
                    receiver.received.append(
                        Received(headers, body, verified, None if answer.hang_up else answer.status)
                    )
                if answer.delay:
                    time.sleep(answer.delay)
                if answer.hang_up:
                    self.close_connection = True
                    self.connection.close()
                    return
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def _next_answer(self) -> Answer:
        with self._lock:
            return self.script.pop(0) if self.script else self.default

    def accepted(self) -> list[Received]:
        """Requests answered 2xx that verified with at least one secret."""
        with self._lock:
            return [r for r in self.received if r.verified_with and r.answered and r.answered < 300]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        """Wait until ``count`` deliveries were accepted; returns them all."""
        deadline = time.monotonic() + timeout
        while len(self.accepted()) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.accepted()


def _verifies(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


@contextmanager
def running(receiver: Receiver) -> Iterator[Receiver]:
    """Serve on a thread for the duration of the block."""
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()

"""A receiver for trying webhooks out: verifies each delivery's signature and prints it.

What `timeline listen` runs (as Stripe's CLI does for its events): point a subscription at
it, give it the subscription's ``whsec_`` secret, and every delivery is checked with the
``standardwebhooks`` package — signature and timestamp — and printed. A delivery that does not
verify is answered 401 (so the service retries it, as it would against a real receiver) and
printed with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

MAX_BODY_BYTES = 5 * 1024 * 1024


def make_server(
    host: str, port: int, secret: str, show: Callable[[str], None]
) -> ThreadingHTTPServer:
    """An HTTP server on (host, port) that verifies deliveries with ``secret`` and shows each
    (``show`` gets one line, or a line and the indented payload)."""
    verifier = Webhook(secret)

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                show(f"refused a {length}-byte body (more than {MAX_BODY_BYTES})")
                self._answer(413)
                return
            body = self.rfile.read(length)
            try:
                payload: Any = verifier.verify(body, dict(self.headers.items()))
            except WebhookVerificationError as error:
                show(f"✗ {self.headers.get('webhook-id', '(no id)')}: not verified ({error})")
                self._answer(401)
                return
            kind = payload.get("type", "?") if isinstance(payload, dict) else "?"
            show(f"✓ {kind} {self.headers['webhook-id']} (signature verified)\n"
                 + json.dumps(payload, indent=2, ensure_ascii=False))  # fmt: skip
            self._answer(204)  # (after showing it: whoever sent it may look at once)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: each delivery is shown once, above."""

    return ThreadingHTTPServer((host, port), Receiver)

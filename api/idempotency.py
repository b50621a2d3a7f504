"""``Idempotency-Key`` on POST: a retried request gets the first answer again.

A client whose POST timed out cannot know whether it was written. Sent with an
``Idempotency-Key`` header (a token of its own, unique per request, e.g. a UUID), the first
answer is kept for 24 hours in Redis, under the caller and the key. A retry with the same key
and the same request (method, path, query and body) gets that answer again, with
``Idempotent-Replayed: true``, and writes nothing; the same key with another request is a 422;
a retry while the first is still running, a 409 with ``Retry-After``. Answers the request did
not decide (401, 403, 429, 5xx) are not kept: the retry runs afresh.

When Redis cannot be reached, a request with the header is a 503: the promise could not be
kept. Requests without it never touch Redis (writes do not depend on it).
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import redis
from flask import Flask, Response, current_app, g, request
from flask_smorest import abort

from api.limits import client_key

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
KEEP_SECONDS = 24 * 3600
# How long a request may run before its key is free again (a process that died mid-request).
RUNNING_SECONDS = 300
MAX_KEY_LENGTH = 255
UNDECIDED = (401, 403, 408, 429)
KEPT_HEADERS = ("Content-Type", "Location", "ETag")


def install(app: Flask) -> None:
    """Honour Idempotency-Key on every POST (after the key and rate-limit checks)."""
    app.before_request(_replay_or_claim)
    app.after_request(_keep)


def _replay_or_claim() -> Response | None:
    key = request.headers.get(HEADER)
    if request.method != "POST" or key is None:
        return None
    if not 0 < len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        abort(422, message=f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.",
              errors={"headers": {HEADER: ["Not a valid key."]}})  # fmt: skip
    name = "timeline-idempotency:" + _digest(client_key(), key)
    fingerprint = _digest(request.method, request.full_path, request.get_data())
    store = current_app.extensions["timeline"].redis
    try:
        running = json.dumps({"fingerprint": fingerprint})
        if store.set(name, running, nx=True, ex=RUNNING_SECONDS):
            g.idempotency = (name, fingerprint)
            return None
        kept: Any = store.get(name)
    except redis.RedisError as error:
        log.warning("idempotency store unreachable: %s", error)
        abort(503, message=f"{HEADER} cannot be honoured right now (its store is unreachable); "
              "retry shortly, or without the header.", headers={"Retry-After": "5"})  # fmt: skip
    record = json.loads(kept) if kept else None
    if record is None:  # expired between the two calls: as good as in flight
        record = {"fingerprint": fingerprint}
    if record["fingerprint"] != fingerprint:
        abort(422, message=f"This {HEADER} was used for another request (a different method, "
              "path or body); use a new key for a new request.",
              errors={"headers": {HEADER: ["Already used for another request."]}})  # fmt: skip
    if "status" not in record:
        abort(409, message=f"A request with this {HEADER} is still being processed; retry "
              "shortly.", headers={"Retry-After": "1"})  # fmt: skip
    replay = Response(record["body"], status=record["status"], headers=record["headers"])
    replay.headers["Idempotent-Replayed"] = "true"
    return replay


def _keep(response: Response) -> Response:
    claimed = g.pop("idempotency", None)
    if claimed is None:
        return response
    name, fingerprint = claimed
    store = current_app.extensions["timeline"].redis
    try:
        if response.status_code >= 500 or response.status_code in UNDECIDED:
            store.delete(name)  # the retry runs afresh
        else:
            kept = {
                "fingerprint": fingerprint,
                "status": response.status_code,
                "headers": {h: response.headers[h] for h in KEPT_HEADERS if h in response.headers},
                "body": response.get_data(as_text=True),
            }
            store.set(name, json.dumps(kept), ex=KEEP_SECONDS)
    except redis.RedisError as error:  # (the key frees itself after RUNNING_SECONDS)
        log.warning("idempotency store unreachable after the write: %s", error)
    return response


def _digest(*parts: str | bytes) -> str:
    hashed = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        hashed.update(len(data).to_bytes(8, "big") + data)
    return hashed.hexdigest()

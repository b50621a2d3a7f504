"""The raw event log by position, for consumers that follow it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from flask import Response, request, stream_with_context
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import EXCLUDE, RAISE, Schema, fields, validate

from api.auth import require
from api.citation import Cited, citation_headers, cited
from api.consistency import MAX_POSITION
from api.json_bodies import Blueprint
from api.limits import client_key
from api.paging import Limit
from api.services import services
from timeline.event_log import LogEntry

blp = Blueprint(
    "events", __name__, url_prefix="/api/v1/events", description="The raw, ordered event log."
)


class EventsArgs(Schema):
    """Where to continue from (a log position; see api.paging for why not a cursor), and how
    much to take."""

    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_POSITION))
    limit = Limit(what="Events")


class EventOut(Schema):
    """One stored event with its log position."""

    position = fields.Integer()
    type = fields.String()
    incident_id = fields.String()
    version = fields.Integer()
    recorded_at = fields.AwareDateTime()
    data = fields.Dict()


class EventsPage(Cited):
    """A slice of the log; pass ``next_after`` as ``after`` to continue. Its citation is the
    ledger's hash at its last event (check the slice against the chain)."""

    items = fields.List(fields.Nested(EventOut))
    next_after = fields.Integer()


@blp.route("")
class Events(MethodView):
    """The event log."""

    @require("read")
    @blp.arguments(EventsArgs(), location="query", unknown=RAISE)
    @blp.response(200, EventsPage)
    def get(self, args: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Events after a position, in log order."""
        entries = services().app.read_events(args["after"], args["limit"])
        last = entries[-1].position if entries else args["after"]
        body = cited({"items": [entry.to_dict() for entry in entries], "next_after": last}, last)
        return body, 200, citation_headers(body["citation"])


_EVENT = EventOut()


class StreamArgs(Schema):
    """Where a new stream starts (a reconnecting client sends Last-Event-ID instead)."""

    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_POSITION))


class StreamHeaders(Schema):
    """The position a reconnecting EventSource client last saw."""

    last_event_id = fields.Integer(
        data_key="Last-Event-ID", validate=validate.Range(min=0, max=MAX_POSITION)
    )


# How often an idle stream looks at the log, and sends a comment so proxies keep it open.
POLL_SECONDS = 0.25
KEEPALIVE_SECONDS = 15.0
STREAM_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}
# Set by api.live in the scope of a stream's preflight (no client can set a scope's keys).
PREFLIGHT = "timeline.stream_preflight"
STREAM_DOC = {
    "responses": {
        "200": {
            "description": "Server-Sent Events: one `data:` JSON event per log entry, its `id:` "
            "the log position. The stream closes after TIMELINE_STREAM_SECONDS; clients "
            "reconnect with Last-Event-ID and miss nothing.",
            "content": {
                "text/event-stream": {
                    "schema": {
                        "description": "One event: `id` the log position, `data` the entry "
                        "as JSON (the shape of an item of GET /events).",
                        "type": "object",
                        "properties": {
                            "id": {"type": "string"},
                            "event": {"type": "string"},
                            "data": {"type": "string"},
                        },
                    }
                }
            },
        }
    }
}


@blp.route("/stream")
class EventStream(MethodView):
    """The event log as a live feed."""

    @require("read")
    @blp.arguments(StreamArgs(), location="query", unknown=RAISE)
    @blp.arguments(StreamHeaders(), location="headers", unknown=EXCLUDE)
    @blp.doc(**STREAM_DOC)
    def get(self, args: dict[str, Any], headers: dict[str, Any]) -> Response:
        """New events as Server-Sent Events, from ``after`` or the ``Last-Event-ID`` header."""
        start = headers.get("last_event_id", args["after"])
        svc = services()
        head = svc.app.head()
        if start > head:  # a position no event has: waiting for it would wait for ever
            where = (
                ("headers", "Last-Event-ID") if "last_event_id" in headers else ("query", "after")
            )
            abort(
                422,
                message=f"{where[1]} {start} is beyond the log's head ({head}).",
                errors={where[0]: {where[1]: [f"Must be at most {head}, the log's head."]}},
            )
        if request.environ.get("asgi.scope", {}).get(PREFLIGHT):  # api.live serves it
            caller = client_key()
            return Response(status=204, headers={"X-Timeline-Stream-Start": str(start),
                                                 "X-Timeline-Stream-Caller": caller})  # fmt: skip
        # Under a WSGI server the stream holds this request's thread (see api.live).
        stream = _events_after(svc.app.read_events, start, svc.settings.stream_seconds)
        return Response(
            stream_with_context(stream), mimetype="text/event-stream", headers=STREAM_HEADERS
        )


def frame(entry: LogEntry) -> str:
    """One log entry as a Server-Sent Event: its position as the id, the entry as data."""
    return f"id: {entry.position}\ndata: {_EVENT.dumps(entry.to_dict())}\n\n"


def _events_after(read: Any, start: int, seconds: float) -> Iterator[str]:
    """Yield SSE frames for entries after ``start`` until ``seconds`` have passed."""
    reached = start
    deadline = time.monotonic() + seconds
    quiet_since = time.monotonic()
    yield "retry: 1000\n\n"
    while time.monotonic() < deadline:
        entries = read(reached, 500)
        for entry in entries:
            yield frame(entry)
            reached = entry.position
        if entries:
            quiet_since = time.monotonic()
            continue
        if time.monotonic() - quiet_since >= KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            quiet_since = time.monotonic()
        time.sleep(POLL_SECONDS)

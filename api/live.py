"""The live feed on an event loop: open streams cost a coroutine each, not a request thread.

Under gunicorn's thread workers each ``/events/stream`` client held one of the 16 request
threads for up to 300 s: 50 idle clients took the whole API down. Here the API runs as an ASGI
app (uvicorn workers): every request but the stream goes to the Flask app in a pool of
threads, as before; a stream is served on the event loop.

- **Checks stay in Flask.** The stream request is first run through the Flask app as a
  *preflight* (a marker in the ASGI scope, which a client cannot set): keys, the rate limit and
  the arguments are checked there as for any route. A refusal (401, 422, 429) is sent as
  Flask made it; a pass names the position to start from and the caller.
- **One reader of the log per process.** A :class:`LogFollower` polls the log's head (one
  query every 0.25 s, only while someone listens), reads each new event once and keeps the
  newest frames; caught-up clients take them from there, a client resuming from further back
  reads its own way forward first.
- **Bounded.** At most ``TIMELINE_STREAM_MAX_CLIENTS`` streams a process and
  ``TIMELINE_STREAM_MAX_PER_CALLER`` per key (or address); beyond, a 503 with Retry-After. A
  keep-alive every few seconds finds dead clients; a closed connection ends its stream at once.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from a2wsgi import WSGIMiddleware
from flask import Flask

from api.events import PREFLIGHT, STREAM_HEADERS, frame

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

STREAM_PATH = "/api/v1/events/stream"
START_HEADER = b"x-timeline-stream-start"
CALLER_HEADER = b"x-timeline-stream-caller"
POLL_SECONDS = 0.25
KEEPALIVE_SECONDS = 5.0
KEPT_FRAMES = 1000


class LogFollower:
    """The log's new events, read once per process for every stream that follows it."""

    def __init__(
        self, head: Callable[[], int], read: Callable[[int, int], list[Any]], poll: float
    ) -> None:
        self._head, self._read, self._poll = head, read, poll
        self.head = -1  # not read yet
        self._frames: collections.deque[tuple[int, str]] = collections.deque(maxlen=KEPT_FRAMES)
        self._grew = asyncio.Event()
        self._listeners = 0
        self._task: asyncio.Task[None] | None = None

    def listen(self) -> None:
        """A stream starts following (the poll runs while anyone listens)."""
        self._listeners += 1
        if self._task is None or self._task.done():
            # Start from the head again: what was written while nobody listened is read by
            # each stream from where it resumes, not all of it by the follower first.
            self.head = -1
            self._frames.clear()
            self._task = asyncio.get_running_loop().create_task(self._run())

    def leave(self) -> None:
        """A stream stopped following."""
        self._listeners -= 1

    async def _run(self) -> None:
        while self._listeners > 0:
            try:
                await self._catch_up()
            except Exception:  # a database outage: keep polling, streams keep their place
                log.warning("live feed: reading the log failed", exc_info=True)
            await asyncio.sleep(self._poll)

    async def _catch_up(self) -> None:
        head = await asyncio.to_thread(self._head)
        if self.head < 0:  # the first poll: start at the head, nothing read before it
            self.head = head
        while self.head < head:
            entries = await asyncio.to_thread(self._read, self.head, 500)
            if not entries:
                break
            self._frames.extend((entry.position, frame(entry)) for entry in entries)
            self.head = entries[-1].position
        if self.head >= head:
            grew, self._grew = self._grew, asyncio.Event()
            grew.set()

    async def after(self, reached: int) -> tuple[list[str], int]:
        """Frames of the events after position ``reached`` (a batch), and the position after
        them; none when the client has everything read so far."""
        if self.head < 0 or reached >= self.head:
            return [], reached
        if self._frames and self._frames[0][0] <= reached + 1:
            frames = [(p, text) for p, text in self._frames if p > reached][:500]
        else:  # further back than what is kept: read from the log
            entries = await asyncio.to_thread(self._read, reached, 500)
            frames = [(entry.position, frame(entry)) for entry in entries]
        if not frames:
            return [], reached
        return [text for _, text in frames], frames[-1][0]

    async def grown(self, timeout: float) -> None:
        """Wait until the log grows (or ``timeout`` seconds pass)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._grew.wait(), timeout)


@dataclass
class Slots:
    """How many streams are open, in all and per caller."""

    total: int
    per_caller: int
    open: collections.Counter[str] = field(default_factory=collections.Counter)

    def take(self, caller: str) -> bool:
        """Open a stream for ``caller`` unless a cap is reached."""
        if sum(self.open.values()) >= self.total or self.open[caller] >= self.per_caller:
            return False
        self.open[caller] += 1
        return True

    def give_back(self, caller: str) -> None:
        """A stream closed."""
        self.open[caller] -= 1
        if self.open[caller] <= 0:
            del self.open[caller]


class LiveFront:
    """The ASGI app: the live feed on the loop, everything else through Flask in threads."""

    def __init__(self, flask_app: Flask, threads: int) -> None:
        services = flask_app.extensions["timeline"]
        settings = services.settings
        self.wsgi = WSGIMiddleware(flask_app, workers=threads)  # type: ignore[arg-type]
        self.stream_seconds = settings.stream_seconds
        self.slots = Slots(settings.stream_max_clients, settings.stream_max_per_caller)
        self._read = services.app.read_events
        self._head = services.app.head
        self._follower: LogFollower | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route one request, from an empty context.

        asyncio can hand one request's context variables to the next request on the same
        connection (CPython issue 140947: a socket reader re-armed while Flask read a body
        keeps a copy of that request's context). Flask finds its app context, with ``g`` and
        the caller's key in it, in a context variable and reuses one it finds: the next
        request, keyless, ran as the earlier caller. So no request starts from the context it
        was called in.
        """
        route = self._route(scope, receive, send)
        await asyncio.get_running_loop().create_task(route, context=contextvars.Context())

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == STREAM_PATH and scope["method"] == "GET":
            await self._stream(scope, receive, send)
        else:
            await self.wsgi(scope, receive, send)  # type: ignore[arg-type]

    @property
    def follower(self) -> LogFollower:
        """This process's follower (made on the loop, at the first stream)."""
        if self._follower is None:
            self._follower = LogFollower(self._head, self._read, POLL_SECONDS)
        return self._follower

    async def _stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = await self._preflight(scope, receive)
        start = _header(answer, START_HEADER)
        if answer[0]["status"] != 204 or start is None:
            for message in answer:  # the refusal, as Flask made it
                await send(message)
            return
        caller = _header(answer, CALLER_HEADER) or "anonymous"
        if not self.slots.take(caller):
            await _busy(send, self.slots)
            return
        follower = self.follower
        follower.listen()
        try:
            await self._feed(int(start), receive, send, follower)
        finally:
            follower.leave()
            self.slots.give_back(caller)

    async def _preflight(self, scope: Scope, receive: Receive) -> list[Message]:
        """The stream request through Flask (auth, limits, arguments): its answer."""
        answer: list[Message] = []

        async def keep(message: Message) -> None:
            answer.append(message)

        await self.wsgi({**scope, PREFLIGHT: True}, receive, keep)  # type: ignore[arg-type]
        return answer

    async def _feed(self, start: int, receive: Receive, send: Send, follower: LogFollower) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.stream_seconds
        gone = loop.create_task(_disconnected(receive))
        headers = [(k.lower().encode(), v.encode()) for k, v in STREAM_HEADERS.items()]
        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await _body(send, "retry: 1000\n\n")
            reached = start
            quiet_since = loop.time()
            while not gone.done() and loop.time() < deadline:
                frames, reached = await follower.after(reached)
                if frames:
                    await _body(send, "".join(frames))
                    quiet_since = loop.time()
                    continue
                if loop.time() - quiet_since >= KEEPALIVE_SECONDS:
                    await _body(send, ": keep-alive\n\n")  # a dead peer fails this write
                    quiet_since = loop.time()
                wait = min(KEEPALIVE_SECONDS, max(deadline - loop.time(), 0))
                await asyncio.wait(
                    [loop.create_task(follower.grown(wait)), gone],
                    return_when=asyncio.FIRST_COMPLETED,
                )
            if not gone.done():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:  # the client went away mid-write
            pass
        finally:
            gone.cancel()


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _body(send: Send, text: str) -> None:
    await send({"type": "http.response.body", "body": text.encode(), "more_body": True})


async def _busy(send: Send, slots: Slots) -> None:
    body = json.dumps({
        "code": 503,
        "status": "Service Unavailable",
        "message": f"Too many live-feed streams (at most {slots.total} a server process, "
        f"{slots.per_caller} per caller); retry shortly.",
    }).encode()  # fmt: skip
    headers = [(b"content-type", b"application/json"), (b"retry-after", b"5"),
               (b"content-length", str(len(body)).encode())]  # fmt: skip
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _header(answer: list[Message], name: bytes) -> str | None:
    if not answer or answer[0]["type"] != "http.response.start":
        return None
    for key, value in answer[0]["headers"]:
        if key == name:
            return bytes(value).decode()
    return None

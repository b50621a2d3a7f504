"""The global event log, read by position: what projections, `/events` and the ledger consume."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Notification

_ENVELOPE = ("originator_id", "originator_version", "timestamp", "originator_topic")


@dataclass(frozen=True)
class LogEntry:
    """One stored event at its place in the log: the decoded event and the stored record.

    Read models dispatch on the class of ``event``; the ledger hashes ``stored`` (the bytes
    as the database holds them, so upcasting an old event never changes its hash).
    """

    position: int
    event: Any
    stored: Notification

    @property
    def type(self) -> str:
        """The event's name, e.g. ``StatementRecorded`` (what `/events` and webhooks show)."""
        return type(self.event).__name__

    @functools.cached_property
    def incident_id(self) -> str:
        """The stream (incident) the event belongs to."""
        return str(self.event.originator_id)

    @property
    def version(self) -> int:
        """The incident's version this event made."""
        return int(self.event.originator_version)

    @property
    def recorded_at(self) -> datetime:
        """When the service stored the event."""
        moment: datetime = self.event.timestamp
        return moment

    @functools.cached_property
    def recorded(self) -> str:
        """When the service stored the event, as the canonical UTC text read models keep."""
        return self.recorded_at.isoformat(timespec="microseconds")

    @functools.cached_property
    def data(self) -> dict[str, Any]:
        """The event's own fields as plain data (without the envelope)."""
        return {k: v for k, v in self.event.__dict__.items() if k not in _ENVELOPE}

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON responses."""
        return {
            "position": self.position,
            "type": self.type,
            "incident_id": self.incident_id,
            "version": self.version,
            "recorded_at": self.recorded_at,
            "data": self.data,
        }


def read_stored(app: Application[Any], after: int, limit: int) -> list[Notification]:
    """Up to ``limit`` stored events with position > ``after``, not decoded, in log order.

    Uses the recorder directly: the notification log refuses more than ten items a call.
    """
    return list(
        app.recorder.select_notifications(start=after, limit=limit, inclusive_of_start=False)
    )


class UndecodableEvent(Exception):
    """A stored event that no longer decodes (its bytes were edited, or its class is gone):
    nothing after it can be replayed in order until it is repaired, so it is named."""

    def __init__(self, position: int, reason: str) -> None:
        super().__init__(f"The event at log position {position} cannot be decoded: {reason}")
        self.position = position
        self.reason = reason


def decoded(app: Application[Any], stored: Notification) -> LogEntry:
    """One stored event as a log entry; :class:`UndecodableEvent` if it cannot be decoded."""
    try:
        return LogEntry(stored.id, app.mapper.to_domain_event(stored), stored)
    except Exception as error:  # whatever the mapper, transcoder or upcaster raised
        raise UndecodableEvent(stored.id, str(error)) from error


def read_log(app: Application[Any], after: int, limit: int) -> list[LogEntry]:
    """Up to ``limit`` entries with position > ``after``, decoded, in log order."""
    return [decoded(app, n) for n in read_stored(app, after, limit)]


def first_undecodable(
    app: Application[Any], on_progress: Callable[[int], None] = lambda position: None
) -> UndecodableEvent | None:
    """The first event in the log that cannot be decoded, if any (reads the whole log)."""
    after = 0
    while batch := read_stored(app, after, 1000):
        for stored in batch:
            try:
                decoded(app, stored)
            except UndecodableEvent as problem:
                return problem
        after = batch[-1].id
        on_progress(after)
    return None


def head_position(app: Application[Any]) -> int:
    """The position of the newest event in the log (0 when empty)."""
    return app.recorder.max_notification_id() or 0


def stream_ids(app: Application[Any]) -> list[UUID]:
    """The id of every stream (aggregate) in an application's log, oldest first.

    For the small stores (subscriptions, keys) that list everything they hold.
    """
    ids: list[UUID] = []
    start = 1
    while section := app.recorder.select_notifications(start, 1000):
        ids += [UUID(str(n.originator_id)) for n in section if n.originator_version == 1]
        start = section[-1].id + 1
    return ids

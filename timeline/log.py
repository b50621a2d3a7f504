"""The global event log, read by position: what projections, `/events` and the ledger consume."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

_ENVELOPE = ("originator_id", "originator_version", "timestamp", "originator_topic")


@dataclass(frozen=True)
class LogEntry:
    """One stored event with its place in the log: position, type, stream and payload."""

    position: int
    type: str
    incident_id: str
    version: int
    recorded_at: datetime
    data: dict[str, Any]

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


def read_log(app: Application[Any], after: int, limit: int) -> list[LogEntry]:
    """Up to ``limit`` entries with position > ``after``, decoded, in log order.

    Uses the recorder directly: the notification log refuses more than ten items a call.
    """
    notifications = app.recorder.select_notifications(
        start=after, limit=limit, inclusive_of_start=False
    )
    entries = []
    for notification in notifications:
        event: Any = app.mapper.to_domain_event(notification)
        fields = event.__dict__
        entries.append(
            LogEntry(
                position=notification.id,
                type=type(event).__name__,
                incident_id=str(event.originator_id),
                version=event.originator_version,
                recorded_at=event.timestamp,
                data={k: v for k, v in fields.items() if k not in _ENVELOPE},
            )
        )
    return entries


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

"""What every write path shares: what a write stored, what a revision asks for, and how a
writer that lost a race waits before trying again."""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Recording

from timeline.domain import InvalidValue
from timeline.domain.external_id import ExternalId

# External-id claims a command looked up (None: none yet) or changed, by stream id: saved with it.
Claims = dict[UUID, ExternalId | None]

MAX_ATTEMPTS = 20


@dataclass(frozen=True)
class Written:
    """What a command stored: the incident, its new version, and the log position reached."""

    incident_id: str
    version: int
    position: int | None  # None: nothing was written (a change to the current values)
    recorded_at: datetime
    statement: dict[str, Any] | None = None
    changes: dict[str, Any] | None = None
    statements: list[dict[str, Any]] = field(default_factory=list)
    # What happened to the incident: reported, amended, retired, restored or unchanged.
    outcome: str = "unchanged"
    # The quality flags (codes) the incident and the statements recorded now carry.
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Revision:
    """A new picture of an incident, as its source published it.

    ``fields``: the fields it gives (others keep their values); ``stated_at``: when it was
    published (None: now). Retirement: ``retire`` retires it, ``restore`` brings it back;
    neither keeps the retirement as it stood — except that with ``revive`` an incident its
    source had removed comes back (the source has it again), while one retired as a duplicate
    or an error stays retired.
    """

    fields: Mapping[str, Any]
    reason: str
    stated_at: object = None
    retire: Mapping[str, Any] | None = None
    restore: bool = False
    revive: bool = False
    # The writer records a source as published: its breaches are flagged, not refused.
    as_published: bool = False
    # A release lists the incident: its picture is recorded at exactly the stated time (an
    # empty amendment when nothing changed: outcome "listed"), so that a release loaded later
    # between two others cannot change what the later one said.
    pin: bool = False


def back_off(attempt: int) -> None:
    """Sleep a little, longer after each lost race, with jitter so writers stop colliding."""
    time.sleep(random.uniform(0, 0.002 * 2 ** min(attempt, 6)))


def uuid_of(raw: object, field: str) -> UUID | None:
    """A UUID given as text (None: none given); refused naming ``field``."""
    if raw is None or isinstance(raw, UUID):
        return raw
    try:
        return UUID(str(raw))
    except ValueError:
        raise InvalidValue("Not a valid UUID.", field) from None


def split_id(statement: Mapping[str, Any]) -> tuple[dict[str, Any], UUID | None]:
    """A client may name a statement's id so that a retried request cannot record it twice."""
    fields = {k: v for k, v in statement.items() if k != "id"}
    return fields, uuid_of(statement.get("id"), "id")


def changed_claims(claims: Claims) -> list[ExternalId]:
    """The claims a write looked up or changed, to save with it (unchanged ones save nothing)."""
    return [claim for claim in claims.values() if claim is not None]


def last_position(recordings: Sequence[Recording[UUID]]) -> int:
    """The log position a save reached."""
    return max(r.notification.id for r in recordings)

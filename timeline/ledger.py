"""Tamper evidence: a hash chain over the global log, and its independent verification.

``hash[n] = sha256(hash[n-1] || canonical bytes of event n)``, starting from 32 zero bytes.
The canonical bytes are the event's decoded content (position, type, incident, version,
recorded time, payload) as sorted, compact JSON, so a change to any stored field — or a deleted
or inserted event — changes every hash from there on. The `ledger` projection stores each link;
:func:`verify` recomputes the chain from the stored events and names the first position where
the two disagree.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from eventsourcing.application import Application

from timeline.log import LogEntry, read_log

GENESIS = bytes(32)


def canonical_bytes(entry: LogEntry) -> bytes:
    """The event as deterministic bytes: what the chain commits to."""
    document = {
        "position": entry.position,
        "type": entry.type,
        "incident_id": entry.incident_id,
        "version": entry.version,
        "recorded_at": entry.recorded_at.isoformat(timespec="microseconds"),
        "data": entry.data,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link(previous: bytes, entry: LogEntry) -> bytes:
    """The chain's hash after ``entry``, given the hash before it."""
    return hashlib.sha256(previous + canonical_bytes(entry)).digest()


def chain(app: Application[Any], batch_size: int = 1000) -> Iterator[tuple[int, bytes]]:
    """(position, hash) for every stored event, recomputed from the start of the log."""
    previous, after = GENESIS, 0
    while entries := read_log(app, after, batch_size):
        for entry in entries:
            previous = link(previous, entry)
            yield entry.position, previous
        after = entries[-1].position


@dataclass(frozen=True)
class Verdict:
    """The outcome of a verification: how far it checked, and the first bad position if any."""

    checked: int
    first_bad_position: int | None
    reason: str | None
    unchained: int

    @property
    def ok(self) -> bool:
        """True when every chained event still hashes to the stored link."""
        return self.first_bad_position is None


def verify(
    app: Application[Any],
    stored_links: Iterator[tuple[int, str]],
    on_progress: Callable[[int], None] | None = None,
) -> Verdict:
    """Walk the recomputed chain beside the stored links, in position order.

    ``stored_links`` yields (position, hex hash) in ascending position. An event whose hash
    differs, a stored link whose event is gone, or an event that appeared between two links
    is reported at its position. Events after the last link are counted as ``unchained``.
    """
    recomputed = chain(app)
    checked = 0
    expected = next(stored_links, None)
    for position, digest in recomputed:
        if on_progress is not None:
            on_progress(position)
        if expected is None:
            unchained = 1 + sum(1 for _ in recomputed)
            return Verdict(checked, None, None, unchained)
        if position < expected[0]:
            return Verdict(checked, position, "event is not in the ledger (inserted?)", 0)
        if position > expected[0]:
            return Verdict(checked, expected[0], "event is missing from the log (deleted?)", 0)
        if digest.hex() != expected[1]:
            return Verdict(checked, position, "event content differs from when it was chained", 0)
        checked += 1
        expected = next(stored_links, None)
    if expected is not None:
        return Verdict(checked, expected[0], "event is missing from the log (deleted?)", 0)
    return Verdict(checked, None, None, 0)

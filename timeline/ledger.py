"""Tamper evidence: a hash chain over the global log, and its independent verification.

``hash[n] = sha256(hash[n-1] || canonical bytes of event n)``, starting from 32 zero bytes.
The canonical bytes are the event as the database stores it: its position, stream id, version
and topic on one line each, then the stored state bytes exactly. So a change to any stored byte
— or a deleted or inserted event — changes every hash from there on, and nothing is decoded:
hashing is cheap, an event that no longer decodes can still be verified, and upcasting an old
event (which changes what it decodes to, never what is stored) leaves its hash alone.

The `ledger` projection stores each link; :func:`verify` recomputes the chain from the stored
events and names the first position where the two disagree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from timeline.event_log import read_stored

GENESIS = bytes(32)
ALGORITHM = "sha256-chain-v2"


def canonical_bytes(stored: Notification) -> bytes:
    """The stored event as deterministic bytes: what the chain commits to."""
    envelope = f"{stored.id}\n{stored.originator_id}\n{stored.originator_version}\n{stored.topic}\n"
    return envelope.encode() + bytes(stored.state)


def link(previous: bytes, stored: Notification) -> bytes:
    """The chain's hash after one stored event, given the hash before it."""
    return hashlib.sha256(previous + canonical_bytes(stored)).digest()


def chain(app: Application[Any], batch_size: int = 1000) -> Iterator[tuple[int, bytes]]:
    """(position, hash) for every stored event, recomputed from the start of the log."""
    previous, after = GENESIS, 0
    while section := read_stored(app, after, batch_size):
        for stored in section:
            previous = link(previous, stored)
            yield stored.id, previous
        after = section[-1].id


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

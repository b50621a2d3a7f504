"""The `ledger` read model: one hash-chain link per event, in log order (see timeline.ledger).

Every event is chained, whatever its class, so this projection overrides ``apply`` instead of
dispatching: it hashes each entry's stored bytes and never looks at the decoded event.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from timeline.event_log import LogEntry
from timeline.ledger import GENESIS, link
from timeline.projections.framework import Projection
from timeline.projections.sql import Cursor, ViewDatabase


class LedgerProjection(Projection):
    """Extends the hash chain as the log grows."""

    name = "ledger"
    version = 2  # 2: links hash the stored bytes (sha256-chain-v2), not the decoded event
    tables = ("ledger_links",)

    def create_tables(self, cursor: Cursor) -> None:
        """One row per chained event."""
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS ledger_links "
            "(position BIGINT PRIMARY KEY, hash TEXT NOT NULL)"
        )

    def apply(self, cursor: Cursor, entries: Sequence[LogEntry]) -> None:
        """Chain each entry onto the last stored link."""
        cursor.execute("SELECT hash FROM ledger_links ORDER BY position DESC LIMIT 1")
        last = cursor.fetchone()
        previous = bytes.fromhex(last["hash"]) if last else GENESIS
        rows = []
        for entry in entries:
            previous = link(previous, entry.stored)
            rows.append((entry.position, previous.hex()))
        cursor.executemany("INSERT INTO ledger_links (position, hash) VALUES (?, ?)", rows)


def head(cursor: Cursor) -> tuple[int, str] | None:
    """The newest link: (position, hex hash), or None for an empty ledger."""
    cursor.execute("SELECT position, hash FROM ledger_links ORDER BY position DESC LIMIT 1")
    row = cursor.fetchone()
    return (int(row["position"]), str(row["hash"])) if row else None


def link_at(cursor: Cursor, position: int) -> str | None:
    """The chain's hex hash at a log position (None: not chained yet)."""
    cursor.execute("SELECT hash FROM ledger_links WHERE position = ?", (position,))
    row = cursor.fetchone()
    return str(row["hash"]) if row else None


def stored_links(views: ViewDatabase, batch_size: int = 5000) -> Iterator[tuple[int, str]]:
    """Every stored link in position order, read in batches."""
    after = 0
    while rows := views.query(
        "SELECT position, hash FROM ledger_links WHERE position > ? ORDER BY position LIMIT ?",
        (after, batch_size),
    ):
        for row in rows:
            yield int(row["position"]), str(row["hash"])
        after = int(rows[-1]["position"])

"""The `ledger` read model: one hash-chain link per event, in log order (see timeline.ledger)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from timeline.ledger import GENESIS, link
from timeline.log import LogEntry
from timeline.projections.sql import Cursor, ViewDatabase


class LedgerProjection:
    """Extends the hash chain as the log grows."""

    name = "ledger"
    version = 1
    tables: tuple[str, ...] = ("ledger_links",)

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
            previous = link(previous, entry)
            rows.append((entry.position, previous.hex()))
        cursor.executemany("INSERT INTO ledger_links (position, hash) VALUES (?, ?)", rows)


def head(views: ViewDatabase) -> tuple[int, str] | None:
    """The newest link: (position, hex hash), or None for an empty ledger."""
    rows = views.query("SELECT position, hash FROM ledger_links ORDER BY position DESC LIMIT 1")
    return (int(rows[0]["position"]), str(rows[0]["hash"])) if rows else None


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

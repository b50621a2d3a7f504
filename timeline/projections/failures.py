"""A projection stopped by an event it cannot apply (a poison event): kept, shown, retried
with backoff.

Before, such a projection was retried by every sweep (every few seconds, for ever) and said
nothing but a log line. Now the first failure records the event's log position and the error;
the projection is applied up to just before it, then left alone until its next try, which
comes later after each failure (5 s doubling to 15 min). ``/ready``, ``timeline status`` and
``/metrics`` show it. A try that gets past the event (the code or the event was fixed) clears
it; ``timeline resume`` makes every stopped projection due at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from timeline.projections.sql import Cursor, ViewDatabase

FAILURES_TABLE = """
CREATE TABLE IF NOT EXISTS projection_failures (
    name TEXT PRIMARY KEY,
    position BIGINT NOT NULL,
    error TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    failed_at TEXT NOT NULL,
    retry_at TEXT NOT NULL
)"""
FIRST_BACKOFF_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 900.0
MAX_ERROR_LENGTH = 2000


@dataclass(frozen=True)
class Failure:
    """Where a projection stopped, why, and when it is tried again."""

    name: str
    position: int
    error: str
    attempts: int
    failed_at: str
    retry_at: str

    def due(self, now: datetime | None = None) -> bool:
        """Whether the next try may run."""
        return (now or datetime.now(UTC)).isoformat() >= self.retry_at

    def describe(self) -> str:
        """One line for an operator."""
        return (
            f"stopped at log position {self.position}: {self.error} (failed {self.attempts} "
            f"time(s); next try at {self.retry_at})"
        )


def backoff(attempts: int) -> timedelta:
    """The pause before the next try after ``attempts`` failures."""
    return timedelta(seconds=min(FIRST_BACKOFF_SECONDS * 2 ** (attempts - 1), MAX_BACKOFF_SECONDS))


def record(db: ViewDatabase, name: str, position: int, error: Exception) -> Failure:
    """Note that ``name`` failed at ``position`` (one more attempt if it failed there before)."""
    text = f"{type(error).__name__}: {error}"[:MAX_ERROR_LENGTH]
    now = datetime.now(UTC)
    with db.transaction() as cursor:
        before = _failures(cursor).get(name)
        attempts = before.attempts + 1 if before and before.position == position else 1
        failure = Failure(name, position, text, attempts, now.isoformat(),
                          (now + backoff(attempts)).isoformat())  # fmt: skip
        cursor.execute("DELETE FROM projection_failures WHERE name = ?", (name,))
        cursor.execute(
            "INSERT INTO projection_failures (name, position, error, attempts, failed_at, "
            "retry_at) VALUES (?, ?, ?, ?, ?, ?)",
            (name, position, text, attempts, failure.failed_at, failure.retry_at),
        )
    return failure


def clear(db: ViewDatabase, names: list[str]) -> None:
    """These projections got past where they stopped."""
    with db.transaction() as cursor:
        for name in names:
            cursor.execute("DELETE FROM projection_failures WHERE name = ?", (name,))


def failures(db: ViewDatabase) -> dict[str, Failure]:
    """Every stopped projection, by name."""
    with db.snapshot() as cursor:
        return _failures(cursor)


def retry_now(db: ViewDatabase) -> list[str]:
    """Make every stopped projection due now (after a fix); returns their names."""
    now = datetime.now(UTC).isoformat()
    with db.transaction() as cursor:
        names = list(_failures(cursor))
        cursor.execute("UPDATE projection_failures SET retry_at = ?", (now,))
    return names


def _failures(cursor: Cursor) -> dict[str, Failure]:
    cursor.execute(
        "SELECT name, position, error, attempts, failed_at, retry_at FROM projection_failures"
    )
    found = {}
    for row in cursor.fetchall():
        found[row["name"]] = Failure(
            row["name"], int(row["position"]), row["error"], int(row["attempts"]),
            row["failed_at"], row["retry_at"],
        )  # fmt: skip
    return found

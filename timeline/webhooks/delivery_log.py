"""The delivery log: its tables, claiming due deliveries, recording attempts, what the API shows.

A delivery is ``pending`` (due at ``next_attempt_at``), ``sending`` (claimed by a job until
``lease_until``; a killed job's claim lapses and the delivery is sent again, with the same
webhook-id), ``delivered`` or ``failed`` (retries used up). Claims move rows by compare-and-set,
so two jobs never send the same delivery at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from timeline.domain.errors import DomainError
from timeline.projections.sql import Cursor, ViewDatabase
from timeline.webhooks.sender import Outcome

DUE = "((status = 'pending' AND next_attempt_at <= ?) OR (status = 'sending' AND lease_until < ?))"
STATUSES = ("pending", "sending", "delivered", "failed")
# After a delivery's last retry failed, its receiver is still held back this long before the
# next delivery is tried (it is failing; do not hammer it).
HOLD_AFTER = 60.0


def create_tables(cursor: Cursor) -> None:
    """The delivery log's schema: deliveries, their attempts, each receiver's streak and hold.

    Operational state, never dropped or rebuilt: change it only by adding statements here
    that migrate existing tables in place (``ALTER TABLE …``), each safe to run again.
    """
    cursor.execute(
        "CREATE TABLE IF NOT EXISTS webhook_deliveries (subscription_id TEXT NOT NULL, "
        "position BIGINT NOT NULL, event_type TEXT NOT NULL, incident_id TEXT NOT NULL, "
        "payload TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL, "
        "next_attempt_at TEXT, lease_until TEXT, created_at TEXT NOT NULL, "
        "PRIMARY KEY (subscription_id, position))"
    )
    cursor.execute(
        "CREATE INDEX IF NOT EXISTS webhook_deliveries_due "
        "ON webhook_deliveries (status, next_attempt_at)"
    )
    cursor.execute(
        "CREATE TABLE IF NOT EXISTS webhook_attempts (subscription_id TEXT NOT NULL, "
        "position BIGINT NOT NULL, attempt INTEGER NOT NULL, attempted_at TEXT NOT NULL, "
        "status_code INTEGER, latency_ms REAL NOT NULL, error TEXT, "
        "PRIMARY KEY (subscription_id, position, attempt))"
    )
    cursor.execute(
        "CREATE TABLE IF NOT EXISTS webhook_endpoints (subscription_id TEXT PRIMARY KEY, "
        "failing_since TEXT, last_success_at TEXT, last_error TEXT, hold_until TEXT)"
    )


def iso(moment: datetime) -> str:
    """The canonical UTC text the delivery tables store times in."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Claimed:
    """A delivery a job holds the right to send now."""

    subscription_id: str
    position: int
    payload: str
    attempts: int


@dataclass(frozen=True)
class Recorded:
    """What attempts left behind: until when the receiver is held back, and its failure streak."""

    held_until: datetime | None
    failing_since: datetime | None


def claim_due(
    db: ViewDatabase, subscription_id: str, now: datetime, lease: float, limit: int
) -> list[Claimed]:
    """Take up to ``limit`` due deliveries of one subscription, oldest event first."""
    at = iso(now)
    with db.transaction() as cursor:
        cursor.execute(
            "UPDATE webhook_deliveries SET status = 'sending', lease_until = ? "
            "WHERE subscription_id = ? AND position IN (SELECT position FROM "
            f"webhook_deliveries WHERE subscription_id = ? AND {DUE} "
            f"ORDER BY position LIMIT ?) AND {DUE} "
            "RETURNING subscription_id, position, payload, attempts",
            (iso(now + timedelta(seconds=lease)), subscription_id, subscription_id, at, at,
             limit, at, at),
        )  # fmt: skip
        rows = cursor.fetchall()
    claimed = [Claimed(**row) for row in rows]
    return sorted(claimed, key=lambda c: c.position)


@dataclass(frozen=True)
class Attempt:
    """One send of a claimed delivery: what came back, when, and when to retry if it failed."""

    claimed: Claimed
    outcome: Outcome
    attempted_at: datetime
    retry_in: float | None  # None: no retries left

    @property
    def retry_at(self) -> datetime | None:
        """When to try again (None once delivered or given up)."""
        if self.outcome.ok or self.retry_in is None:
            return None
        return self.attempted_at + timedelta(seconds=self.retry_in)

    @property
    def status(self) -> str:
        """The delivery's status after this attempt."""
        if self.outcome.ok:
            return "delivered"
        return "failed" if self.retry_at is None else "pending"


def record_attempts(
    db: ViewDatabase, subscription_id: str, attempts: Sequence[Attempt]
) -> Recorded:
    """Store attempts (one transaction) and move each delivery on; note the receiver's streak.

    Any failure holds the receiver back until the earliest retry among the failures.
    """
    failures = [a for a in attempts if not a.outcome.ok]
    hold = min(
        (a.retry_at or a.attempted_at + timedelta(seconds=HOLD_AFTER) for a in failures),
        default=None,
    )
    with db.transaction() as cursor:
        cursor.executemany(
            "INSERT INTO webhook_attempts (subscription_id, position, attempt, attempted_at, "
            "status_code, latency_ms, error) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (subscription_id, position, attempt) DO NOTHING",
            [
                (subscription_id, a.claimed.position, a.claimed.attempts + 1,
                 iso(a.attempted_at), a.outcome.status_code, a.outcome.latency_ms,
                 a.outcome.error)
                for a in attempts
            ],
        )  # fmt: skip
        cursor.executemany(
            "UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, "
            "lease_until = NULL WHERE subscription_id = ? AND position = ?",
            [
                (a.status, a.claimed.attempts + 1, iso(a.retry_at) if a.retry_at else None,
                 subscription_id, a.claimed.position)
                for a in attempts
            ],
        )  # fmt: skip
        last = max(attempts, key=lambda a: a.attempted_at)
        failing_since = _note_endpoint(
            cursor,
            subscription_id,
            failures[-1].outcome if failures else last.outcome,
            iso(last.attempted_at),
            iso(hold) if hold else None,
        )
    return Recorded(hold, datetime.fromisoformat(failing_since) if failing_since else None)


def _note_endpoint(
    cursor: Cursor, subscription_id: str, outcome: Outcome, at: str, hold: str | None
) -> str | None:
    """Track the receiver's failure streak and hold it back until the failed one's retry."""
    if outcome.ok:
        cursor.execute(
            "INSERT INTO webhook_endpoints (subscription_id, failing_since, last_success_at) "
            "VALUES (?, NULL, ?) ON CONFLICT (subscription_id) DO UPDATE "
            "SET failing_since = NULL, hold_until = NULL, "
            "last_success_at = excluded.last_success_at",
            (subscription_id, at),
        )
        return None
    cursor.execute(
        "INSERT INTO webhook_endpoints (subscription_id, failing_since, last_error, hold_until) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (subscription_id) DO UPDATE SET failing_since = "
        "COALESCE(webhook_endpoints.failing_since, excluded.failing_since), "
        "last_error = excluded.last_error, hold_until = excluded.hold_until",
        (subscription_id, at, outcome.error, hold),
    )
    cursor.execute(
        "SELECT failing_since FROM webhook_endpoints WHERE subscription_id = ?",
        (subscription_id,),
    )
    row = cursor.fetchone()
    return row["failing_since"] if row else at


def held_until(db: ViewDatabase, subscription_id: str) -> datetime | None:
    """Until when a failing receiver gets nothing (None: not held)."""
    rows = db.query(
        "SELECT hold_until FROM webhook_endpoints WHERE subscription_id = ?", (subscription_id,)
    )
    hold = rows[0]["hold_until"] if rows else None
    return datetime.fromisoformat(hold) if hold else None


def earliest_due(db: ViewDatabase, subscription_id: str) -> datetime | None:
    """When the subscription's next pending delivery falls due, holds included."""
    rows = db.query(
        "SELECT MIN(next_attempt_at) AS due FROM webhook_deliveries "
        "WHERE subscription_id = ? AND status = 'pending'",
        (subscription_id,),
    )
    due = rows[0]["due"] if rows else None
    if due is None:
        return None
    hold = held_until(db, subscription_id)
    return max(datetime.fromisoformat(due), hold) if hold else datetime.fromisoformat(due)


def overdue_subscriptions(db: ViewDatabase, now: datetime) -> list[str]:
    """Subscriptions with deliveries due now and no hold: the sweep's net for lost jobs."""
    at = iso(now)
    rows = db.query(
        f"SELECT DISTINCT subscription_id FROM webhook_deliveries WHERE {DUE} "
        "AND NOT EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.subscription_id = "
        "webhook_deliveries.subscription_id AND e.hold_until > ?)",
        (at, at, at),
    )
    return [row["subscription_id"] for row in rows]


def make_due(db: ViewDatabase, subscription_id: str, position: int, now: datetime) -> bool:
    """Send a delivery again as soon as possible (manual redelivery); False if unknown."""
    with db.transaction() as cursor:
        changed = cursor.execute(
            "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?, "
            "lease_until = NULL WHERE subscription_id = ? AND position = ? "
            "AND status <> 'sending'",
            (iso(now), subscription_id, position),
        )
        if changed:
            return True
        cursor.execute(
            "SELECT 1 AS found FROM webhook_deliveries WHERE subscription_id = ? AND position = ?",
            (subscription_id, position),
        )
        return cursor.fetchone() is not None  # already being sent: nothing to do


def list_deliveries(
    db: ViewDatabase,
    subscription_id: str,
    *,
    before: int | None = None,
    status: str | None = None,
    limit: int = 50,
    position: int | None = None,
) -> list[dict[str, Any]]:
    """Deliveries newest event first, each with its attempts."""
    where = ["d.subscription_id = ?"]
    params: list[Any] = [subscription_id]
    for clause, value in (
        ("d.position < ?", before),
        ("d.status = ?", status),
        ("d.position = ?", position),
    ):
        if value is not None:
            where.append(clause)
            params.append(value)
    with db.snapshot() as cursor:
        cursor.execute(
            "SELECT d.position, d.event_type, d.incident_id, d.status, d.next_attempt_at, "
            f"d.created_at FROM webhook_deliveries d WHERE {' AND '.join(where)} "
            "ORDER BY d.position DESC LIMIT ?",
            (*params, limit),
        )
        deliveries = cursor.fetchall()
        if not deliveries:
            return []
        marks = ", ".join("?" for _ in deliveries)
        cursor.execute(
            "SELECT position, attempt, attempted_at, status_code, latency_ms, error "
            f"FROM webhook_attempts WHERE subscription_id = ? AND position IN ({marks}) "
            "ORDER BY position, attempt",
            (subscription_id, *[d["position"] for d in deliveries]),
        )
        attempts = cursor.fetchall()
    by_position: dict[int, list[dict[str, Any]]] = {}
    for attempt in attempts:
        by_position.setdefault(int(attempt.pop("position")), []).append(attempt)
    for delivery in deliveries:
        delivery["attempts"] = by_position.get(int(delivery["position"]), [])
        if delivery["status"] in ("delivered", "failed"):
            delivery["next_attempt_at"] = None
    return deliveries


def endpoint_health(db: ViewDatabase, subscription_id: str) -> dict[str, Any]:
    """The receiver's failure streak and last success, for the subscription's view."""
    rows = db.query(
        "SELECT failing_since, last_success_at, last_error FROM webhook_endpoints "
        "WHERE subscription_id = ?",
        (subscription_id,),
    )
    return rows[0] if rows else {"failing_since": None, "last_success_at": None, "last_error": None}


def status_counts(db: ViewDatabase) -> dict[str, int]:
    """How many deliveries are in each status (for metrics)."""
    rows = db.query("SELECT status, COUNT(*) AS n FROM webhook_deliveries GROUP BY status")
    return {status: 0 for status in STATUSES} | {r["status"]: int(r["n"]) for r in rows}


def outcome_counts(db: ViewDatabase) -> dict[str, int]:
    """How many attempts ended each way: 2xx, 3xx, 4xx, 5xx, or an error with no answer."""
    rows = db.query(
        "SELECT CASE WHEN status_code IS NULL THEN 'error' "
        "ELSE CAST(status_code / 100 AS TEXT) || 'xx' END AS outcome, COUNT(*) AS n "
        "FROM webhook_attempts GROUP BY 1"
    )
    outcomes = dict.fromkeys(("2xx", "3xx", "4xx", "5xx", "error"), 0)
    return outcomes | {r["outcome"]: int(r["n"]) for r in rows}


class DeliveryNotFound(DomainError):
    """No delivery of this log position to this subscription."""


class DeliveryLog:
    """What the API and metrics may ask of the delivery log (queries and manual redelivery)."""

    def __init__(self, db: ViewDatabase) -> None:
        self.db = db

    def list(
        self,
        subscription_id: str,
        *,
        before: int | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Deliveries below position ``before``, newest first, each with its attempts; and the
        position to continue below (None: no more)."""
        rows = list_deliveries(self.db, subscription_id, before=before, status=status,
                               limit=limit + 1)  # fmt: skip
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, int(rows[-1]["position"]) if more and rows else None

    def get(self, subscription_id: str, position: int) -> dict[str, Any]:
        """One delivery with its attempts."""
        rows = list_deliveries(self.db, subscription_id, position=position)
        if not rows:
            raise _not_found(position)
        return rows[0]

    def receiver(self, subscription_id: str) -> dict[str, Any]:
        """The receiver's failure streak and last success."""
        return endpoint_health(self.db, subscription_id)

    def redeliver(self, subscription_id: str, position: int, now: datetime) -> None:
        """Make one delivery due again now."""
        if not make_due(self.db, subscription_id, position, now):
            raise _not_found(position)

    def counts(self) -> tuple[dict[str, int], dict[str, int]]:
        """Deliveries by status, and attempts by outcome (for metrics)."""
        return status_counts(self.db), outcome_counts(self.db)


def _not_found(position: int) -> DeliveryNotFound:
    return DeliveryNotFound(f"No delivery of position {position} to this subscription.", "position")

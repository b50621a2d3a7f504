"""When to try a failed delivery again, and what a receiver's answer means."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# A receiver may push the next attempt back, but not past this (one day).
MAX_RETRY_AFTER = 24 * 3600.0


def retry_delay(
    attempts: int,
    schedule: Sequence[float],
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds until the next attempt after ``attempts`` failed ones; None once they are used up.

    Each scheduled delay gets ±20 % jitter so that deliveries failed together do not all come
    back together. A ``Retry-After`` longer than the schedule's delay wins.
    """
    if attempts < 1 or attempts > len(schedule):
        return None
    delay = schedule[attempts - 1] * (rng or random).uniform(0.8, 1.2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def disables(status_code: int | None) -> bool:
    """410 Gone: the receiver says the endpoint is gone for good."""
    return status_code == 410

"""The psycopg_pool patch in the composition root still does what it is for.

It sets a private class attribute: if a psycopg_pool release renames or stops reading it, the
service would again stay down for up to minutes after a database outage. This test watches the
behaviour (the delay between reconnection attempts), not only the attribute.
"""

from __future__ import annotations

from psycopg_pool.base import AttemptWithBackoff

from timeline.bootstrap import _reconnect_steadily


def test_reconnection_attempts_stay_about_a_second_apart() -> None:
    _reconnect_steadily()
    attempt = AttemptWithBackoff(timeout=300)
    delays = []
    for step in range(8):
        attempt.update_delay(now=float(step))
        delays.append(attempt.delay)
    assert max(delays) < 1.5, delays  # unpatched: 1, 2, 4, … 128 s

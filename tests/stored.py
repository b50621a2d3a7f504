"""Editing a SQLite event store the way older code would have written it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path


def drop_by_from_stored_events(path: Path) -> None:
    """Remove the ``by`` field (never set here) from every stored event, as before keys were
    recorded; a test then checks that such events still replay."""
    with sqlite3.connect(path) as db:
        for rowid, state in db.execute("SELECT rowid, state FROM stored_events").fetchall():
            data = json.loads(state)
            assert data.pop("by") is None
            db.execute(
                "UPDATE stored_events SET state = ? WHERE rowid = ?",
                (json.dumps(data).encode(), rowid),
            )

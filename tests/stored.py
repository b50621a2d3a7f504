"""Editing a SQLite event store the way older code would have written it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any


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


def as_first_shapes(path: Path) -> int:
    """Store every event and snapshot as the first code wrote them: no ``class_version``, no
    citation ``reference``, no ``admin2``/``admin3`` in places, no (empty) ``properties`` or
    ``external_ids``, actors as side codes, no ``country_name`` (countries as given: these are
    codes), no ``stated_at`` on incident versions and no
    retirement or published versions in snapshots. Returns how many rows changed."""
    changed = 0
    with sqlite3.connect(path) as db:
        for table in ("stored_events", "stored_snapshots"):
            rows = db.execute(
                f"SELECT originator_id, originator_version, state FROM {table}"
            ).fetchall()
            for originator, version, state in rows:
                data = json.loads(state)
                before = json.dumps(data)
                _first_shape(data)
                _first_shape(data.get("state") or {})  # a snapshot holds the aggregate's state
                if json.dumps(data) != before:
                    changed += 1
                    db.execute(
                        f"UPDATE {table} SET state = ? "
                        "WHERE originator_id = ? AND originator_version = ?",
                        (json.dumps(data).encode(), originator, version),
                    )
    return changed


def _first_shape(data: dict[str, Any]) -> None:
    data.pop("class_version", None)
    if "stated_at" in data and "statement" not in data and "source" not in data:
        assert data.pop("stated_at") is None  # an incident version published when recorded
    for later in ("retired", "published"):  # a snapshot's state
        data.pop(later, None)
    for empty in ("properties", "external_ids"):
        if data.get(empty) == {}:
            del data[empty]
    for holder in (data, data.get("changes") or {}):
        if holder.get("actors"):  # actors were side codes
            holder["actors"] = [actor["side"] for actor in holder["actors"]]
    places = [data.get("location"), (data.get("changes") or {}).get("location")]
    for place in places:
        for key in ("admin2", "admin3", "country_name"):
            if place is not None:
                place.pop(key, None)
    statements = [data["statement"]] if "statement" in data else []
    statements += list(data.get("statements", {}).values())
    for statement in statements:
        for citation in statement.get("citations") or []:
            citation.pop("reference", None)


def with_country_names(path: Path, names: dict[str, str]) -> int:
    """Store places' countries as names (``UA`` → ``Ukraine``), without ``country_name``, as
    events were before countries became codes (reports of class version 5, amendments of 4,
    snapshots of 6). Returns how many rows changed."""
    before_codes = {"IncidentReported": 5, "IncidentAmended": 4}
    changed = 0
    with sqlite3.connect(path) as db:
        for table in ("stored_events", "stored_snapshots"):
            rows = db.execute(
                f"SELECT originator_id, originator_version, topic, state FROM {table}"
            ).fetchall()
            for originator, version, topic, state in rows:
                data = json.loads(state)
                holder = data.get("state") or data  # a snapshot holds the aggregate's state
                place = holder.get("location") or (holder.get("changes") or {}).get("location")
                if place is None or place.get("country") not in names:
                    continue
                place["country"] = names[place["country"]]
                del place["country_name"]
                kind = topic.rsplit(".", 1)[-1]
                data["class_version"] = 6 if table == "stored_snapshots" else before_codes[kind]
                db.execute(
                    f"UPDATE {table} SET state = ? "
                    "WHERE originator_id = ? AND originator_version = ?",
                    (json.dumps(data).encode(), originator, version),
                )
                changed += 1
    return changed

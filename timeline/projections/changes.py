"""What changed between two moments, across every incident: added, restored, changed (field by
field, and statements said meanwhile) and retired — on either clock.

Read from the `timeline` read model's pictures, which stand on both clocks: an incident's
picture at T1 beside its picture at T2. On the stated clock, with T1 and T2 two release dates of
a namespace, this is what the later release changed (`namespace=` narrows it to that dataset).
Only incidents that changed in (T1, T2] are looked at: those with a picture recorded (or
published) in the window, or a statement recorded (or said) in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from timeline.domain import countries
from timeline.projections import jsontext as json
from timeline.projections.sql import Cursor
from timeline.projections.timeline import term_line
from timeline.projections.versions import Clock, standing

# The incident's fields compared version to version (what an amendment or a release changes).
COMPARED = (
    "title", "kind", "occurred", "location", "actors", "tags", "properties", "external_ids",
    "flags",
)  # fmt: skip


@dataclass(frozen=True)
class ChangesFilter:
    """Two moments on one clock, and which incidents (their terms at either moment)."""

    start: str
    end: str
    clock: Clock = "recorded"
    namespace: str | None = None
    kind: Sequence[str] = ()
    country: str | None = None


def _window(clock: Clock, alias: str, recorded: str, stated: str) -> str:
    """SQL: the row's time (its recorded or its stated column) lies in (T1, T2]."""
    column = recorded if clock == "recorded" else stated
    return f"{alias}.{column} > ? AND {alias}.{column} <= ?"


def query_changes(
    cursor: Cursor, where: ChangesFilter, after: str | None, limit: int
) -> list[dict[str, Any]]:
    """A page (by incident id, after ``after``) of the incidents that changed in (T1, T2]."""
    window = [where.start, where.end]
    pictures = _window(where.clock, "p", "sys_from", "stated_at")
    following, more = (" AND p.incident_id > ?", [after]) if after is not None else ("", [])
    cursor.execute(
        f"SELECT DISTINCT p.incident_id FROM timeline_incidents p WHERE {pictures}{following}",
        [*window, *more],
    )
    pictured = {row["incident_id"] for row in cursor.fetchall()}
    said = _window(where.clock, "s", "sys_from", "at")
    following = following.replace("p.", "s.")
    cursor.execute(
        "SELECT s.incident_id, COUNT(*) AS said FROM timeline_items s "
        f"WHERE s.item_type = 'statement' AND {said}{following} GROUP BY s.incident_id",
        [*window, *more],
    )
    said_meanwhile = {row["incident_id"]: int(row["said"]) for row in cursor.fetchall()}
    found: list[dict[str, Any]] = []
    ids = sorted(pictured | set(said_meanwhile))
    for start in range(0, len(ids), 200):  # (filters leave some out: read on until the page fills)
        chunk = ids[start : start + 200]
        before = _pictures(cursor, chunk, where.clock, where.start)
        now = _pictures(cursor, chunk, where.clock, where.end)
        for incident_id in chunk:
            change = _change(before.get(incident_id), now.get(incident_id),
                             said_meanwhile.get(incident_id, 0))  # fmt: skip
            if change is not None and _wanted(change, where):
                found.append({"id": incident_id, **change})
                if len(found) == limit:
                    return found
    return found


def _pictures(
    cursor: Cursor, incident_ids: list[str], clock: Clock, at: str
) -> dict[str, dict[str, Any]]:
    """Each incident's picture standing at ``at`` — on the stated clock, once published (the
    first picture also stands for the time before, when only statements spoke of it)."""
    live, params = standing("v", clock, at)
    if clock == "stated":
        live, params = f"{live} AND v.stated_at <= ?", [*params, at]
    cursor.execute(
        f"SELECT v.incident_id, v.version, v.retired, v.terms, v.incident "
        f"FROM timeline_incidents v WHERE {live} "
        f"AND v.incident_id IN ({', '.join('?' for _ in incident_ids)})",
        [*params, *incident_ids],
    )
    return {row["incident_id"]: row for row in cursor.fetchall()}


def _change(
    before: dict[str, Any] | None, now: dict[str, Any] | None, said: int
) -> dict[str, Any] | None:
    """How an incident changed, from its pictures at T1 and T2 (None: it did not)."""
    if now is None:
        return None  # not known by T2 (only spoken of: no picture yet)
    was_live = before is not None and not before["retired"]
    is_live = not now["retired"]
    incident = json.loads(now["incident"])
    earlier = json.loads(before["incident"]) if before is not None else None
    if before is None:
        change = "added" if is_live else None
    elif was_live and not is_live:
        change = "retired"
    elif not was_live and is_live:
        change = "restored"
    elif is_live:
        change = "changed"
    else:
        change = None  # retired at both moments
    if change is None:
        return None
    fields: dict[str, Any] = {}
    if earlier is not None and change != "added":
        fields = {name: {"from": earlier.get(name), "to": incident.get(name)}
                  for name in COMPARED if earlier.get(name) != incident.get(name)}  # fmt: skip
    if change == "changed" and not fields and not said:
        return None  # a version restated unchanged
    return {
        "change": change,
        "incident": incident,
        "fields_changed": fields,
        "statements_said": said,
        "terms": now["terms"] + (before["terms"] if before is not None else ""),
    }


def _wanted(change: dict[str, Any], where: ChangesFilter) -> bool:
    """The analyst filters, on the incident's terms and kind at either moment."""
    terms = change.pop("terms")
    if where.namespace is not None and "\n" + term_line(f"ns:{where.namespace}") not in terms:
        return False
    country = countries.wanted(where.country) if where.country is not None else None
    if country is not None and "\n" + term_line(f"country:{country}") not in terms:
        return False
    return not where.kind or change["incident"]["kind"] in where.kind

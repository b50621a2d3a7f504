"""A linked group answered as one event: each dataset's version side by side, and their figures
as competing claims (the dataset as claimant) with how far they spread.

Read from two read models in one snapshot: the group from `links` (the links held now, or at a
time on either clock), each member as it stood then from `timeline`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from timeline.domain.matching import OWN, Footprint, distance_km, footprint
from timeline.domain.values import totals
from timeline.projections import jsontext as json
from timeline.projections.links import component, held_among
from timeline.projections.sql import Cursor
from timeline.projections.timeline import TimelineFilter, live_statements
from timeline.projections.versions import Clock, at_position, standing


def cluster(
    cursor: Cursor,
    incident_id: str,
    clock: Clock = "recorded",
    at: str | None = None,
    position: int | None = None,
) -> dict[str, Any] | None:
    """The group ``incident_id`` belongs to (a group of one when it is linked to nothing), now,
    at ``at`` on ``clock`` or at a log ``position``; None when no such incident was known."""
    members = sorted(component(cursor, incident_id, clock, at, position))
    when = TimelineFilter(as_of=at, clock=clock, at_position=position)
    incidents = _pictures(cursor, members, when)
    if incident_id not in incidents:
        return None
    members = [m for m in members if m in incidents]
    statements = live_statements(cursor, when, members)
    shown = [
        {"claimant": claimant(incidents[m]), "incident": incidents[m], "statements": statements[m]}
        for m in members
    ]
    return {
        "id": members[0],
        "members": shown,
        "links": held_among(cursor, members, clock, at, position),
        "figures": competing_figures(shown),
        "disagreement": disagreement([incidents[m] for m in members]),
    }


def _pictures(
    cursor: Cursor, members: list[str], when: TimelineFilter
) -> dict[str, dict[str, Any]]:
    if when.at_position is not None:
        live, params = at_position("v", when.at_position)
    else:
        live, params = standing("v", when.clock, when.as_of)
    marks = ", ".join("?" for _ in members)
    cursor.execute(
        f"SELECT v.incident_id, v.incident FROM timeline_incidents v WHERE {live} "
        f"AND v.incident_id IN ({marks})",
        [*params, *members],
    )
    return {row["incident_id"]: json.loads(row["incident"]) for row in cursor.fetchall()}


def claimant(incident: dict[str, Any]) -> str:
    """Who an incident's version speaks for: its dataset(s), or ``own`` (an analyst's)."""
    return ",".join(sorted(incident.get("external_ids") or {})) or OWN


def competing_figures(members: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per metric, every member's live figures that count toward totals (UCDP's best, not its
    parties' parts), and their spread (the values' range)."""
    by_metric: dict[str, list[dict[str, Any]]] = {}
    for member in members:
        for statement in member["statements"]:
            for figure in totals(statement["figures"]):
                by_metric.setdefault(figure["metric"], []).append({
                    "claimant": member["claimant"],
                    "incident_id": member["incident"]["id"],
                    "statement_id": statement["id"],
                    "source": statement["source"]["name"],
                    "value": figure["value"],
                    "qualifier": figure["qualifier"],
                    "low": figure.get("low"),
                    "high": figure.get("high"),
                    "subject": figure.get("subject"),
                })  # fmt: skip
    found = []
    for metric in sorted(by_metric):
        claims = by_metric[metric]
        values = [claim["value"] for claim in claims]
        found.append({
            "metric": metric,
            "claims": claims,
            "spread": {"min": min(values), "max": max(values), "range": max(values) - min(values),
                       "claimants": len({claim["claimant"] for claim in claims})},
        })  # fmt: skip
    return found


def disagreement(incidents: list[dict[str, Any]]) -> dict[str, Any]:
    """Where the versions differ: how many days apart their starts are, how far apart their
    places (km, where both have coordinates), the names and kinds each gives."""
    starts = sorted(incident["occurred"]["start"] for incident in incidents)
    prints = [fp for fp in map(footprint, incidents) if fp is not None and fp.lat is not None]
    return {
        "first_start": starts[0],
        "last_start": starts[-1],
        "days_apart": round((_seconds(starts[-1]) - _seconds(starts[0])) / 86_400, 2),
        "km_apart": _widest(prints),
        "places": sorted({(i.get("location") or {}).get("name") or "" for i in incidents} - {""}),
        "kinds": sorted({incident["kind"] for incident in incidents}),
    }


def _widest(prints: list[Footprint]) -> float | None:
    pairs = [(a, b) for n, a in enumerate(prints) for b in prints[n + 1 :]]
    return round(max(distance_km(a, b) for a, b in pairs), 2) if pairs else None


def _seconds(moment: str) -> float:
    return datetime.fromisoformat(moment).timestamp()

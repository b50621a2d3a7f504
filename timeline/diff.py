"""What changed in an incident between two moments: the audit view of a narrative.

Works on two plain incident views (``TimelineApp.get_incident``), so it applies to either clock.
"""

from __future__ import annotations

from typing import Any

from timeline.domain.values import AMENDABLE_FIELDS

View = dict[str, Any]


def figure_ranges(view: View | None) -> dict[tuple[str, str | None], dict[str, Any]]:
    """Per (metric, subject): the lowest and highest figure given, and by how many statements."""
    ranges: dict[tuple[str, str | None], dict[str, Any]] = {}
    for statement in view["statements"] if view else []:
        if statement["withdrawn"]:
            continue
        for figure in statement["figures"]:
            key = (figure["metric"], figure["subject"])
            low = figure["low"] if figure["low"] is not None else figure["value"]
            high = figure["high"] if figure["high"] is not None else figure["value"]
            known = ranges.setdefault(key, {"low": low, "high": high, "statements": 0})
            known["low"] = min(known["low"], low)
            known["high"] = max(known["high"], high)
            known["statements"] += 1
    return ranges


def incident_diff(before: View | None, after: View) -> dict[str, Any]:
    """Statements added and withdrawn, fields amended and figure ranges changed.

    ``before`` is None when the incident was not yet known at the earlier moment.
    """
    earlier = {s["id"]: s for s in before["statements"]} if before else {}
    added = [s for s in after["statements"] if s["id"] not in earlier]
    withdrawn = [
        s
        for s in after["statements"]
        if s["withdrawn"] and not (s["id"] in earlier and earlier[s["id"]]["withdrawn"])
    ]
    amended = {
        name: {"from": before[name], "to": after[name]}
        for name in AMENDABLE_FIELDS
        if before is not None and before[name] != after[name]
    }
    old, new = figure_ranges(before), figure_ranges(after)
    figures = [
        {"metric": metric, "subject": subject, "from": old.get(key), "to": new.get(key)}
        for key in sorted(old.keys() | new.keys(), key=lambda k: (k[0], k[1] or ""))
        for metric, subject in [key]
        if old.get(key) != new.get(key)
    ]
    return {
        "id": after["id"],
        "from_version": before["version"] if before else 0,
        "to_version": after["version"],
        "statements_added": added,
        "statements_withdrawn": withdrawn,
        "fields_amended": amended,
        "figures_changed": figures,
    }

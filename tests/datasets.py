"""Reading the test fixtures written in real datasets' column layouts, and mapping their rows
to the API's incident shape the way an importer would (a minimal one: the real importers are
the CLI's business). The fixtures are invented; only their layouts are the datasets'."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"
ACLED_SNAPSHOTS = sorted((FIXTURES / "acled_snapshots").glob("*.csv"))

# ACLED event type / sub-event type → kind (the README's table).
ACLED_KINDS = {
    "Battles": "battle",
    "Violence against civilians": "violence_against_civilians",
    "Protests": "protest",
    "Riots": "riot",
    "Strategic developments": "other",
}
ACLED_SUB_KINDS = {
    "Air/drone strike": "strike",
    "Shelling/artillery/missile attack": "shelling",
}
# ACLED's inter codes 1-8 → actor types; geo_precision 1-3 → place precision.
ACTOR_TYPES = {
    "1": "state_forces", "2": "rebel_group", "3": "political_militia", "4": "identity_militia",
    "5": "rioters", "6": "protesters", "7": "civilians", "8": "external_other",
}  # fmt: skip
GEO_PRECISION = {"1": "exact", "2": "near", "3": "admin1"}
SIDES = {"Russia": "RU", "Ukraine": "UA"}
MAPPED = {
    "event_id_cnty", "event_date", "actor1", "inter1", "actor2", "inter2", "admin1", "admin2",
    "admin3", "location", "latitude", "longitude", "geo_precision",
}  # fmt: skip


def read_snapshot(path: Path) -> list[dict[str, str]]:
    """The rows of one ACLED-layout CSV file."""
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _actor(name: str, inter: str) -> dict[str, Any]:
    side = next((code for country, code in SIDES.items() if f"of {country}" in name), None)
    return {"name": name, "side": side, "type": ACTOR_TYPES.get(inter), "code": None}


def acled_incident(row: dict[str, str]) -> dict[str, Any]:
    """An ACLED row as the incident the API returns for it (fields only)."""
    event_type, sub = row["event_type"], row["sub_event_type"]
    return {
        "title": f"{sub}: {row['location']}",
        "kind": ACLED_SUB_KINDS.get(sub) or ACLED_KINDS.get(event_type, "explosion"),
        "occurred": {
            "start": f"{row['event_date']}T00:00:00.000000+00:00",
            "end": None,
            "precision": "day",
        },
        "location": {
            "name": row["location"],
            "admin1": row["admin1"] or None,
            "admin2": row["admin2"] or None,
            "admin3": row["admin3"] or None,
            "country": "UA",
            "country_name": "Ukraine",
            "precision": GEO_PRECISION[row["geo_precision"]],
            "lat": float(row["latitude"]),
            "lon": float(row["longitude"]),
        },
        "actors": [_actor(row[f"actor{n}"], row[f"inter{n}"]) for n in (1, 2) if row[f"actor{n}"]],
        "tags": [],
        "properties": {k: v for k, v in row.items() if k not in MAPPED and v != ""},
        "external_ids": {"acled": row["event_id_cnty"]},
    }


def acled_item(row: dict[str, str]) -> dict[str, Any]:
    """An ACLED row as a /batch item (the API's input shape)."""
    incident = acled_incident(row)
    return {**incident, "occurred": {"start": row["event_date"]}}

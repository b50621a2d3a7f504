"""ACLED's CSV export, in its current 31-column layout and the layout before 2023.

Each row is an incident (external id ``acled:<event_id_cnty>``) and one statement by ACLED
citing the row's ``source`` outlets, with its ``fatalities``. Columns without a field of their
own — ``disorder_type``, ``event_type``, ``sub_event_type``, ``interaction``, ``notes``… — are
kept in ``properties`` as the row gave them; the type and sub-type map to a kind (README).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from timeline.domain.countries import code_of, name_of, side_of_actor
from timeline.importing.files import csv_rows
from timeline.importing.rows import (
    ColumnError,
    Parsed,
    missing_columns,
    number,
    parse_rows,
    statement_id,
    text,
)

NAMESPACE = "acled"
SOURCE = {"name": "ACLED", "side": "independent", "type": "analyst"}
REQUIRED = ("event_id_cnty", "event_date", "event_type", "sub_event_type", "location")
KINDS = {
    "Battles": "battle",
    "Violence against civilians": "violence_against_civilians",
    "Protests": "protest",
    "Riots": "riot",
}
SUB_KINDS = {
    "Air/drone strike": "strike",
    "Shelling/artillery/missile attack": "shelling",
    "Agreement": "diplomacy",
    "Headquarters or base established": "deployment",
}
# inter codes 1-8 → actor types; time_precision 1-3; geo_precision 1-3 (README).
ACTOR_TYPES = {
    "1": "state_forces", "2": "rebel_group", "3": "political_militia", "4": "identity_militia",
    "5": "rioters", "6": "protesters", "7": "civilians", "8": "external_other",
}  # fmt: skip
TIME_PRECISION = {"1": "day", "2": "week", "3": "month"}
GEO_PRECISION = {"1": "exact", "2": "near", "3": "admin1"}
MAPPED = {
    "event_id_cnty", "event_date", "time_precision", "actor1", "inter1", "actor2", "inter2",
    "country", "admin1", "admin2", "admin3", "location", "latitude", "longitude",
    "geo_precision", "source", "notes", "fatalities", "timestamp",
}  # fmt: skip
# Which column a domain field came from, for problems the domain finds.
COLUMNS = {
    "title": "sub_event_type", "kind": "event_type", "occurred": "event_date",
    "location.name": "location", "location.lat": "latitude", "location.lon": "longitude",
    "location.admin1": "admin1", "location.admin2": "admin2", "location.admin3": "admin3",
    "location.country": "country", "actors.0": "actor1", "actors.1": "actor2",
    "properties": "notes", "statements.0.figures": "fatalities",
    "statements.0.stated_at": "timestamp", "statements.0.text": "notes",
    "statements.0.citations": "source",
}  # fmt: skip


def kind_of(event_type: str, sub_event_type: str) -> str:
    """ACLED's type and sub-type → a kind."""
    if sub_event_type in SUB_KINDS:
        return SUB_KINDS[sub_event_type]
    if event_type == "Explosions/Remote violence":
        return "explosion"
    return KINDS.get(event_type, "other")


def event_date(raw: str) -> str:
    """``2023-01-07`` (current layout) or ``07 January 2023`` (before 2023) → ISO date."""
    raw = raw.strip()
    if not raw:
        raise ColumnError("event_date", "Missing the date.")
    for layout in ("%Y-%m-%d", "%d %B %Y", "%d-%B-%Y"):
        try:
            return datetime.strptime(raw, layout).date().isoformat()
        except ValueError:
            continue
    raise ColumnError("event_date", f"Not a date (2023-01-07 or 07 January 2023): {raw[:40]!r}.")


def read(
    path: Path,
    stated_at: str | None = None,
    stated_column: str | None = None,
    encoding: str = "utf-8",
) -> Iterator[Parsed]:
    """Every row of an ACLED CSV file, mapped (or with the problems that keep it out)."""
    header, rows = csv_rows(path, encoding)
    if refused := missing_columns(header, REQUIRED):
        yield refused
        return
    item = partial(_item, stated_at=stated_at)
    yield from parse_rows(rows, "event_id_cnty", item, COLUMNS, stated_column)


def _item(row: dict[str, str], external_id: str, stated_at: str | None) -> dict[str, Any]:
    date = event_date(row.get("event_date") or "")
    lat, lon = number(row, "latitude"), number(row, "longitude")
    location = {
        "name": text(row, "location"),
        "admin1": text(row, "admin1"),
        "admin2": text(row, "admin2"),
        "admin3": text(row, "admin3"),
        # ISO 3166 by ACLED's own numeric iso column where it has one, else by the name
        "country": code_of(text(row, "iso")) or code_of(text(row, "country")),
        "country_name": text(row, "country"),
        "precision": GEO_PRECISION.get((row.get("geo_precision") or "").strip()),
        "lat": lat,
        "lon": lon,
    }
    actors = [
        {"name": name, "type": ACTOR_TYPES.get((row.get(f"inter{n}") or "").strip()),
         "side": side_of_actor(name)}
        for n in (1, 2)
        if (name := text(row, f"actor{n}"))
    ]  # fmt: skip
    said = stated_at or _uploaded(row) or f"{date}T00:00:00+00:00"
    fatalities = number(row, "fatalities")
    statement: dict[str, Any] = {
        "source": SOURCE,
        "stance": "claim",
        "text": text(row, "notes") or f"ACLED records {row.get('sub_event_type')} on {date}.",
        "stated_at": said,
        "figures": (
            [{"metric": "killed", "value": fatalities, "qualifier": "about"}]
            if fatalities is not None else []
        ),
        "citations": (
            [{"reference": reference, "outlet": None}] if (reference := text(row, "source")) else []
        ),
    }  # fmt: skip
    statement["id"] = statement_id(NAMESPACE, external_id, statement)
    precision = TIME_PRECISION.get((row.get("time_precision") or "").strip(), "day")
    return {
        "title": f"{row.get('sub_event_type') or row.get('event_type')}: {location['name']}",
        "kind": kind_of(row.get("event_type") or "", row.get("sub_event_type") or ""),
        "occurred": {"start": date, "precision": precision},
        "location": location,
        "actors": actors,
        "tags": [],
        "properties": {k: v for k, v in row.items() if k and k not in MAPPED and v},
        "external_ids": {NAMESPACE: external_id},
        "statements": [statement],
    }


def _uploaded(row: dict[str, str]) -> str | None:
    """ACLED's ``timestamp``: when the row was last uploaded (Unix seconds)."""
    seconds = number(row, "timestamp")
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat()


# ---------------------------------------------------------------- back out, in ACLED's layout

CURRENT_LAYOUT = (
    "event_id_cnty", "event_date", "year", "time_precision", "disorder_type", "event_type",
    "sub_event_type", "actor1", "assoc_actor_1", "inter1", "actor2", "assoc_actor_2", "inter2",
    "interaction", "civilian_targeting", "iso", "region", "country", "admin1", "admin2",
    "admin3", "location", "latitude", "longitude", "geo_precision", "source", "source_scale",
    "notes", "fatalities", "tags", "timestamp",
)  # fmt: skip
# For incidents that did not come from ACLED: a kind's nearest ACLED type and sub-type.
TYPES_OF_KINDS = {
    "strike": ("Explosions/Remote violence", "Air/drone strike"),
    "shelling": ("Explosions/Remote violence", "Shelling/artillery/missile attack"),
    "explosion": ("Explosions/Remote violence", "Remote explosive/landmine/IED"),
    "battle": ("Battles", "Armed clash"),
    "violence_against_civilians": ("Violence against civilians", "Attack"),
    "protest": ("Protests", "Peaceful protest"),
    "riot": ("Riots", "Mob violence"),
    "diplomacy": ("Strategic developments", "Agreement"),
    "deployment": ("Strategic developments", "Headquarters or base established"),
}
INTER_OF_TYPES = {name: code for code, name in ACTOR_TYPES.items()}
GEO_OF_PRECISIONS = {"exact": "1", "near": "2"}
TIME_OF_PRECISIONS = {"minute": "1", "hour": "1", "day": "1", "week": "2"}


def row_of(incident: dict[str, Any]) -> dict[str, Any]:
    """An incident (the API's shape, with ``statements``) as a row of ACLED's current layout:
    an incident imported from ACLED gives back its row; any other, the nearest ACLED terms."""
    properties = incident.get("properties") or {}
    place = incident.get("location") or {}
    occurred = incident["occurred"]
    statements = incident.get("statements") or []
    said = next((s for s in statements if s["source"]["name"] == SOURCE["name"]), None)
    said = said or (statements[0] if statements else None)
    event_type, sub_type = TYPES_OF_KINDS.get(incident["kind"], ("Strategic developments", "Other"))
    actors = incident.get("actors") or []
    killed = [f for f in (said or {}).get("figures", []) if f["metric"] == "killed"]
    row: dict[str, Any] = {column: properties.get(column, "") for column in CURRENT_LAYOUT}
    row |= {
        "event_id_cnty": (incident.get("external_ids") or {}).get(NAMESPACE, incident["id"]),
        "event_date": occurred["start"][:10],
        "year": properties.get("year") or occurred["start"][:4],
        "time_precision": TIME_OF_PRECISIONS.get(occurred.get("precision") or "day", "3"),
        "event_type": properties.get("event_type") or event_type,
        "sub_event_type": properties.get("sub_event_type") or sub_type,
        "country": place.get("country_name") or name_of(place.get("country") or ""),
        "admin1": place.get("admin1") or "",
        "admin2": place.get("admin2") or "",
        "admin3": place.get("admin3") or "",
        "location": place.get("name") or "",
        "latitude": f"{place['lat']:.4f}" if place.get("lat") is not None else "",
        "longitude": f"{place['lon']:.4f}" if place.get("lon") is not None else "",
        "geo_precision": GEO_OF_PRECISIONS.get(place.get("precision") or "", "3"),
        "source": "; ".join(c.get("reference") or c.get("url") or ""
                            for c in (said or {}).get("citations", [])),
        "notes": (said or {}).get("text", ""),
        "fatalities": killed[0]["value"] if killed else "",
        "timestamp": properties.get("timestamp")
        or (int(datetime.fromisoformat(said["stated_at"]).timestamp()) if said else ""),
    }  # fmt: skip
    for n, actor in enumerate(actors[:2], start=1):
        row[f"actor{n}"] = actor["name"]
        row[f"inter{n}"] = INTER_OF_TYPES.get(actor.get("type") or "", "")
    return row

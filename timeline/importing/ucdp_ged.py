"""UCDP's Georeferenced Event Dataset (GED), as CSV or as GeoJSON (one Feature per event).

Each event is an incident (external id ``ucdp-ged:<id>``) and one statement by UCDP GED citing
its ``source_article``, with the deaths it counts: the total (``best``, ``low`` to ``high``) and
each party's, the civilians' and the unknown (as figures whose subject is that party).
Unmapped columns (conflict and dyad ids, ``where_description``, ``priogrid_gid``,
``event_clarity``…) are kept in ``properties``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from timeline.domain.countries import code_of, side_of_actor
from timeline.importing.files import FileRefused, csv_rows, open_text, undecodable
from timeline.importing.rows import (
    ColumnError,
    Parsed,
    Problem,
    missing_columns,
    number,
    parse_rows,
    statement_id,
    text,
)

NAMESPACE = "ucdp-ged"
SOURCE = {"name": "UCDP GED", "side": "independent", "type": "analyst"}
REQUIRED = ("id", "date_start", "type_of_violence", "best")
KINDS = {"1": "battle", "2": "battle", "3": "violence_against_civilians"}
# date_prec 1-5 and where_prec 1-7 (README).
DATE_PRECISION = {"1": "day", "2": "week", "3": "week", "4": "month", "5": "year"}
WHERE_PRECISION = {
    "1": "exact", "2": "near", "3": "admin2", "4": "admin1", "5": "near", "6": "country",
    "7": "region",
}  # fmt: skip
# 2009-02-20, 2009-02-20 00:00:00.000 (GED's CSV), 2009-02-20T00:00:00[Z] (its GeoJSON)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?Z?)?$")
PARTIES = (("deaths_a", "side_a"), ("deaths_b", "side_b"))
MAPPED = {
    "id", "type_of_violence", "side_a", "side_b", "source_article", "source_headline",
    "where_prec", "where_coordinates", "adm_1", "adm_2", "country", "latitude", "longitude",
    "date_prec", "date_start", "date_end", "deaths_a", "deaths_b", "deaths_civilians",
    "deaths_unknown", "best", "high", "low",
}  # fmt: skip
COLUMNS = {
    "title": "dyad_name", "kind": "type_of_violence", "occurred.start": "date_start",
    "occurred.end": "date_end", "occurred": "date_start", "location.name": "where_coordinates",
    "location.lat": "latitude", "location.lon": "longitude", "location.admin1": "adm_1",
    "location.admin2": "adm_2", "location.country": "country", "actors.0": "side_a",
    "actors.1": "side_b", "properties": "where_description", "statements.0.text":
    "source_headline", "statements.0.stated_at": "date_end", "statements.0.citations":
    "source_article", "statements.0.figures.0.low": "low", "statements.0.figures.0.high": "high",
    "statements.0.figures.0": "best", "statements.0.figures": "best",
}  # fmt: skip


def read(
    path: Path,
    stated_at: str | None = None,
    stated_column: str | None = None,
    encoding: str = "utf-8",
) -> Iterator[Parsed]:
    """Every event of a GED file (``.csv``, or ``.geojson``/``.json``), mapped."""
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".geojson", ".json")):
        features: Iterable[dict[str, str]] = _features(path, encoding)
        yield from _parse_all(features, stated_at, None, stated_column)
        return
    header, rows = csv_rows(path, encoding)
    yield from _parse_all(rows, stated_at, header, stated_column)


def _features(path: Path, encoding: str) -> Iterator[dict[str, str]]:
    """The properties of each Feature, as text like a CSV row's (GeoJSON holds numbers)."""
    with open_text(path, encoding) as f:
        try:
            collection = json.load(f)
        except UnicodeDecodeError:
            raise FileRefused(f"{path}: {undecodable(path, encoding)}") from None
        except ValueError as error:
            raise FileRefused(f"{path}: not JSON ({error})") from None
    if not isinstance(collection, dict) or not isinstance(collection.get("features"), list):
        raise FileRefused(f"{path}: not a GeoJSON FeatureCollection (no features list)")
    for feature in collection["features"]:
        if not isinstance(feature, dict) or not isinstance(feature.get("properties"), dict):
            yield {}  # no properties: the row's problem (no id)
            continue
        properties = feature["properties"]
        row = {k: "" if v is None else str(v) for k, v in properties.items()}
        coordinates = (feature.get("geometry") or {}).get("coordinates")
        if coordinates and not row.get("longitude"):
            row["longitude"], row["latitude"] = str(coordinates[0]), str(coordinates[1])
        yield row


def _parse_all(
    rows: Iterable[dict[str, str] | Problem],
    stated_at: str | None,
    header: list[str] | None,
    stated_column: str | None = None,
) -> Iterator[Parsed]:
    if header is not None and (refused := missing_columns(header, REQUIRED)):
        yield refused
        return
    item = partial(_item, stated_at=stated_at)
    yield from parse_rows(rows, "id", item, COLUMNS, stated_column)


def _date(row: dict[str, str], column: str) -> str | None:
    """``2009-02-20``, ``2009-02-20 00:00:00.000`` or ``2009-02-20T00:00:00`` → the date."""
    raw = text(row, column)
    if raw is None:
        return None
    if not _DATE.match(raw):
        raise ColumnError(column, f"Not a date: {raw[:40]!r}.")
    try:  # a real day and, if given, a real time of it (not 25:00, not 30 February)
        datetime.fromisoformat(raw.removesuffix("Z").replace(" ", "T"))
    except ValueError:
        raise ColumnError(column, f"Not a date: {raw[:40]!r}.") from None
    return raw[:10]


def _item(row: dict[str, str], external_id: str, stated_at: str | None) -> dict[str, Any]:
    start = _date(row, "date_start")
    if start is None:
        raise ColumnError("date_start", "Missing the date.")
    end = _date(row, "date_end")
    best = number(row, "best", required=True)
    figures: list[dict[str, Any]] = [
        {"metric": "killed", "value": best, "low": number(row, "low"),
         "high": number(row, "high"), "qualifier": "about"}
    ]  # fmt: skip
    for deaths, side in PARTIES:  # one-sided violence has no side_b: nor its own count
        party = text(row, side)
        if party is not None and (count := number(row, deaths)) is not None:
            figures.append({"metric": "killed", "value": count, "subject": party})
    for deaths, subject in (("deaths_civilians", "civilians"), ("deaths_unknown", "unknown")):
        if (count := number(row, deaths)) is not None:
            figures.append({"metric": "killed", "value": count, "subject": subject})
    lat, lon = number(row, "latitude"), number(row, "longitude")
    place = text(row, "where_coordinates") or text(row, "adm_2") or text(row, "adm_1")
    headline = text(row, "source_headline")
    statement: dict[str, Any] = {
        "source": SOURCE,
        "stance": "claim",
        "text": headline or f"UCDP GED counts {best} deaths ({start}).",
        "stated_at": stated_at or f"{end or start}T00:00:00+00:00",
        "figures": figures,
        "citations": ([{"reference": article}] if (article := text(row, "source_article")) else []),
    }
    statement["id"] = statement_id(NAMESPACE, external_id, statement)
    actors = [
        {"name": name, "side": side_of_actor(name)}
        for side in ("side_a", "side_b")
        if (name := text(row, side))
    ]
    return {
        "title": f"{text(row, 'dyad_name') or text(row, 'conflict_name') or 'Event'}: "
        f"{place or text(row, 'country') or 'unknown place'}",
        "kind": KINDS.get((row.get("type_of_violence") or "").strip(), "other"),
        "occurred": {
            "start": start,
            "end": end,
            "precision": DATE_PRECISION.get((row.get("date_prec") or "").strip(), "day"),
        },
        "location": {
            "name": place or text(row, "country") or "unknown",
            "admin1": text(row, "adm_1"),
            "admin2": text(row, "adm_2"),
            "country": code_of(text(row, "country")),
            "country_name": text(row, "country"),
            "precision": WHERE_PRECISION.get((row.get("where_prec") or "").strip()),
            "lat": lat,
            "lon": lon,
        },
        "actors": actors,
        "tags": [],
        "properties": {k: v for k, v in row.items() if k and k not in MAPPED and v},
        "external_ids": {NAMESPACE: external_id},
        "statements": [statement],
    }

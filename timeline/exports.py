"""Incidents as files: NDJSON (round-trips through `timeline import ndjson`), CSV (flat, one
row an incident, pandas- and spreadsheet-friendly), ACLED's CSV layout (for tools made for
ACLED's exports) and GeoJSON (RFC 7946, a Feature each).

Each writer turns a stream of incidents — the API's incident shape with its live
``statements`` — into a stream of text chunks, so an export of any size runs in constant
memory.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from timeline.domain.values import COMMON_METRICS, totals
from timeline.importing import acled

if TYPE_CHECKING:
    from timeline.read_models import Export

Incident = dict[str, Any]
FORMATS = {
    "ndjson": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
    "acled-csv": "text/csv; charset=utf-8",
    "geojson": "application/geo+json",
}
CSV_COLUMNS = (
    "id", "title", "kind", "occurred_start", "occurred_end", "occurred_precision",
    "location_name", "admin1", "admin2", "admin3", "country", "country_name",
    "location_precision", "lat", "lon", "actors", "actor_sides", "tags", "external_ids",
    "stated_at", "retired", "flags", "statements",
)  # fmt: skip
FIGURE_PARTS = ("low", "best", "high", "claimed_by")


def figure_ranges(statements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per metric (all subjects): the lowest and highest figure given, the latest one given
    (``best``), and who gave them."""
    ranges: dict[str, dict[str, Any]] = {}
    for statement in sorted(statements, key=lambda s: (s["stated_at"], s["id"])):
        for figure in totals(statement["figures"]):  # (not a total's parts)
            value = figure["value"]
            low = figure["low"] if figure.get("low") is not None else value
            high = figure["high"] if figure.get("high") is not None else value
            known = ranges.setdefault(
                figure["metric"], {"low": low, "best": value, "high": high, "claimed_by": []}
            )
            known["low"], known["high"] = min(known["low"], low), max(known["high"], high)
            known["best"] = value
            name = statement["source"]["name"]
            if name not in known["claimed_by"]:
                known["claimed_by"].append(name)
    return ranges


def every_flag(incident: Incident) -> list[dict[str, str]]:
    """The incident's quality flags and its statements' (their field named through the
    statement: ``statements.<id>.figures.0.high``)."""
    found = list(incident.get("flags") or [])
    for statement in incident.get("statements") or []:
        found += [
            {**flag, "field": f"statements.{statement['id']}.{flag['field']}"}
            for flag in statement.get("flags") or []
        ]
    return found


def flag_codes(incident: Incident) -> str:
    """Every distinct flag code of the incident and its statements, joined (a CSV cell)."""
    return "; ".join(dict.fromkeys(flag["code"] for flag in every_flag(incident)))


def ndjson(incidents: Iterable[Incident]) -> Iterator[bytes]:
    """One incident a line."""
    for incident in incidents:
        yield orjson.dumps(incident) + b"\n"


def csv_rows(
    incidents: Iterable[Incident], metrics: Sequence[str] = COMMON_METRICS
) -> Iterator[str]:
    """A header, then one row an incident; lists joined with "; ", properties as JSON, and
    four columns for each of ``metrics`` (low, best, high, claimed_by: see figure_ranges)."""
    figures = [f"{metric}_{part}" for metric in metrics for part in FIGURE_PARTS]
    columns = (*CSV_COLUMNS, *figures, "properties")
    return _table(columns, (_csv_row(incident, metrics) for incident in incidents))


def acled_csv(incidents: Iterable[Incident]) -> Iterator[str]:
    """ACLED's current 31-column layout, so that tools made for ACLED's exports read it (an
    incident imported from ACLED gives back its row)."""
    layout = acled.CURRENT_LAYOUT
    rows = ([row[c] for c in layout] for row in map(acled.row_of, incidents))
    return _table(layout, rows)


def _csv_row(incident: Incident, metrics: Sequence[str]) -> list[Any]:
    occurred, place = incident["occurred"], incident["location"] or {}
    ranges = figure_ranges(incident.get("statements") or [])
    figures: list[Any] = []
    for metric in metrics:
        found = ranges.get(metric) or {}
        figures += [found.get("low"), found.get("best"), found.get("high"),
                    "; ".join(found.get("claimed_by") or [])]  # fmt: skip
    retired = incident.get("retired")
    return [
        incident["id"], incident["title"], incident["kind"], occurred["start"],
        occurred.get("end"), occurred.get("precision"), place.get("name"), place.get("admin1"),
        place.get("admin2"), place.get("admin3"), place.get("country"),
        place.get("country_name"), place.get("precision"),
        place.get("lat"), place.get("lon"), "; ".join(a["name"] for a in incident["actors"]),
        "; ".join(a["side"] for a in incident["actors"] if a.get("side")),
        "; ".join(incident["tags"]),
        "; ".join(f"{ns}:{value}" for ns, value in incident["external_ids"].items()),
        incident.get("stated_at"), retired["reason"] if retired else None,
        flag_codes(incident), len(incident.get("statements") or []), *figures,
        orjson.dumps(incident["properties"]).decode() if incident["properties"] else None,
    ]  # fmt: skip


def geojson(incidents: Iterable[Incident]) -> Iterator[bytes]:
    """A FeatureCollection: each incident a Feature (a Point where it has coordinates, else
    no geometry), its fields and its figures' ranges as properties."""
    yield b'{"type":"FeatureCollection","features":['
    first = True
    for incident in incidents:
        place = incident["location"] or {}
        geometry = (
            {"type": "Point", "coordinates": [place["lon"], place["lat"]]}
            if place.get("lat") is not None
            else None
        )
        properties = {k: v for k, v in incident.items() if k not in ("statements",)}
        properties["figures"] = figure_ranges(incident.get("statements") or [])
        properties["flags"] = every_flag(incident)
        feature = {"type": "Feature", "id": incident["id"], "geometry": geometry,
                   "properties": properties}  # fmt: skip
        yield (b"" if first else b",") + orjson.dumps(feature)
        first = False
    yield b"]}"


TIMELINE_COLUMNS = (
    "type", "id", "at", "recorded_at", "position", "incident_id", "incident_title", "kind",
    "country", "lat", "lon", "source_name", "source_side", "source_type", "stance",
    "responds_to", "text", "figures",
)  # fmt: skip
CLAIM_COLUMNS = (
    "incident_id", "incident_title", "kind", "metric", "subject", "low", "high", "contested",
    "figures", "claimed_by", "disputed_by",
)  # fmt: skip


def _table(columns: Sequence[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    """CSV text: the header, then a chunk a row (as it is written, in constant memory)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def timeline_csv(items: Iterable[dict[str, Any]]) -> Iterator[str]:
    """Timeline items, one a row: the incident's and the statement's main columns."""

    def row(item: dict[str, Any]) -> list[Any]:
        incident, statement = item["incident"], item.get("statement") or {}
        place, source = incident.get("location") or {}, statement.get("source") or {}
        figures = statement.get("figures")
        return [
            item["type"], item["id"], item["at"], item["recorded_at"], item["position"],
            incident["id"], incident["title"], incident["kind"], place.get("country"),
            place.get("lat"), place.get("lon"), source.get("name"), source.get("side"),
            source.get("type"), statement.get("stance"), statement.get("responds_to"),
            statement.get("text"), orjson.dumps(figures).decode() if figures else None,
        ]  # fmt: skip

    return _table(TIMELINE_COLUMNS, map(row, items))


def claims_csv(groups: Iterable[dict[str, Any]]) -> Iterator[str]:
    """Figure groups, one a row: the range, contested or not, who claimed and who disputed."""

    def row(group: dict[str, Any]) -> list[Any]:
        incident = group["incident"]
        claimed = dict.fromkeys(f["source"]["name"] for f in group["figures"])
        disputed = dict.fromkeys(d["source"]["name"] for d in group["disputed_by"])
        return [
            incident["id"], incident["title"], incident["kind"], group["metric"],
            group["subject"], group["low"], group["high"], group["contested"],
            len(group["figures"]), "; ".join(claimed), "; ".join(disputed),
        ]  # fmt: skip

    return _table(CLAIM_COLUMNS, map(row, groups))


# The writer of each format (each yields bytes or text chunks).
WRITERS: dict[str, Any] = {
    "ndjson": ndjson,
    "csv": csv_rows,
    "acled-csv": acled_csv,
    "geojson": geojson,
}
# The other listings' CSV (their NDJSON is the same writer).
TIMELINE_WRITERS: dict[str, Any] = {"ndjson": ndjson, "csv": timeline_csv}
CLAIM_WRITERS: dict[str, Any] = {"ndjson": ndjson, "csv": claims_csv}
# NDJSON lines put together by the query layer (ReadModels.export_incident_lines) pass as is.
LINES: dict[str, Any] = {"ndjson": iter}


def write(export: Export, data_format: str, writers: Mapping[str, Any] = WRITERS) -> Iterator[Any]:
    """An export as a file's chunks (text or bytes) in a format of ``writers``; the incident
    CSV has figure columns for every metric the export knows."""
    writer = writers[data_format]
    chunks: Iterator[Any] = (
        csv_rows(iter(export), export.metrics) if writer is csv_rows else writer(iter(export))
    )
    return chunks

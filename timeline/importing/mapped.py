"""Any CSV, with a small mapping file (TOML) saying which column is what.

    namespace = "cir"                      # the dataset's namespace for its ids
    id = "id"                              # the column holding each row's id
    title = "{type}: {city}"               # a column, or a template of columns
    date = "date"                          # when it happened (a date, month, year or time)
    end = "end_date"                       # optional
    kind = { column = "type", default = "other", map = { Shelling = "shelling" } }

    [place]                                # each optional: a column name
    name = "city"
    admin1 = "province"
    country = "country"
    lat = "latitude"
    lon = "longitude"

    [source]                               # who the statement is attributed to
    name = "Eyes on Russia"                # fixed values, or column = "…" for a column
    side = "independent"
    type = "ngo"
    text = "description"                   # the statement's text (a column)
    citation = "url"                       # a URL, or any other text (a reference)

    [[figures]]
    metric = "killed"
    value = "deaths"                       # columns; low and high optional
    low = "deaths_low"

Every column the mapping does not name goes to ``properties``.
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from timeline.domain.countries import code_of
from timeline.domain.values import NAMESPACE_PATTERN
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


class MappingError(ValueError):
    """The mapping file is not usable (the message names the key)."""


def load_mapping(path: Path) -> dict[str, Any]:
    """Read and check a mapping file."""
    try:
        mapping = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise MappingError(f"{path}: {error}") from error
    for key in ("namespace", "id", "title", "date", "source"):
        if key not in mapping:
            raise MappingError(f"{path}: missing '{key}'")
    if not re.match(NAMESPACE_PATTERN, str(mapping["namespace"])):
        raise MappingError(f"{path}: namespace must be lowercase, e.g. 'cir'")
    kind = mapping.get("kind", {"default": "other"})
    if isinstance(kind, str):
        kind = {"column": kind}
    mapping["kind"] = kind
    for key in ("name", "side", "type"):
        if key not in mapping["source"]:
            raise MappingError(f"{path}: missing 'source.{key}'")
    return mapping


def _columns(mapping: dict[str, Any]) -> set[str]:
    """Every column the mapping names (the rest go to properties)."""
    named = {mapping["id"], mapping["date"], mapping.get("end")}
    named |= {f for _, f, _, _ in string.Formatter().parse(mapping["title"]) if f}
    if "{" not in mapping["title"]:
        named.add(mapping["title"])
    named.add(mapping["kind"].get("column"))
    named |= set((mapping.get("place") or {}).values())
    source = mapping["source"]
    named |= {source.get("text"), source.get("citation")}
    named |= {v.get("column") for v in source.values() if isinstance(v, dict)}
    for figure in mapping.get("figures") or []:
        named |= {figure.get("value"), figure.get("low"), figure.get("high")}
    return {c for c in named if c}


def read(
    path: Path,
    stated_at: str | None = None,
    stated_column: str | None = None,
    encoding: str = "utf-8",
    *,
    mapping: dict[str, Any],
) -> Iterator[Parsed]:
    """Every row of the CSV file, mapped by ``mapping`` (see :func:`load_mapping`)."""
    named = _columns(mapping)
    columns = {"title": mapping["title"], "occurred": mapping["date"], "kind":
               mapping["kind"].get("column", "kind")}  # fmt: skip
    columns |= {f"location.{k}": v for k, v in (mapping.get("place") or {}).items()}
    columns |= {"occurred.start": mapping["date"], "occurred.end": mapping.get("end") or ""}
    for n, spec in enumerate(mapping.get("figures") or []):
        figure = f"statements.0.figures.{n}"
        columns |= {figure: spec["value"], f"{figure}.value": spec["value"]}
        columns |= {f"{figure}.{k}": spec[k] for k in ("low", "high") if spec.get(k)}
    if mapping["source"].get("text"):
        columns["statements.0.text"] = mapping["source"]["text"]
    if mapping["source"].get("citation"):
        columns["statements.0.citations"] = mapping["source"]["citation"]
    header, rows = csv_rows(path, encoding)
    if refused := missing_columns(header, sorted(named)):
        yield refused
        return

    def item(row: dict[str, str], external_id: str) -> dict[str, Any]:
        return _item(row, mapping, named, external_id, stated_at)

    yield from parse_rows(rows, mapping["id"], item, columns, stated_column)


# The punctuation a title template puts between columns: what is left of it around an empty
# column goes ("{category}: {town}" of a row without a town is "Shelling", not "Shelling:").
_SEPARATORS = " :;,/|-\u2013\u2014"
_SEPARATED = re.compile("\\s*([:;,/|\\-\u2013\u2014])(?:\\s*[:;,/|\\-\u2013\u2014])+\\s*")


def _filled(template: str, row: dict[str, str]) -> str | None:
    """A title template filled from a row; None when every column it names is empty."""
    values = {column: (value or "").strip() for column, value in row.items()}
    filled = _SEPARATED.sub(lambda m: f"{m.group(1)} ", template.format_map(values))
    return filled.strip(_SEPARATORS) or None


def _value(row: dict[str, str], spec: Any) -> Any:
    """A fixed value, or ``{column = "…"}``'s value."""
    return text(row, spec["column"]) if isinstance(spec, dict) else spec


def _item(
    row: dict[str, str],
    mapping: dict[str, Any],
    named: set[str],
    external_id: str,
    stated_at: str | None,
) -> dict[str, Any]:
    title = mapping["title"]
    title = _filled(title, row) if "{" in title else text(row, title)
    date = text(row, mapping["date"])
    if date is None:
        raise ColumnError(mapping["date"], "Missing the date.")
    kind_spec = mapping["kind"]
    kind = kind_spec.get("default", "other")
    flags = []
    if kind_spec.get("column"):
        raw = text(row, kind_spec["column"]) or ""
        known = kind_spec.get("map") or {}
        if known and raw not in known:  # kept as published (in properties), and flagged
            flags.append({"code": "unmapped_category", "field": "kind", "message":
                          f"{kind_spec['column']} {raw[:60]!r} is not in the mapping: "
                          f"its default {kind!r} applies."})  # fmt: skip
        kind = known.get(raw, kind) if known else raw
    place_spec = mapping.get("place") or {}
    place: dict[str, Any] = {
        k: text(row, c) for k, c in place_spec.items() if k not in ("lat", "lon")
    }
    if place_spec:
        place["lat"] = number(row, place_spec["lat"]) if "lat" in place_spec else None
        place["lon"] = number(row, place_spec["lon"]) if "lon" in place_spec else None
        # No name: the domain names the place from what the row has, and flags it.
        if place.get("country"):  # as ISO 3166, the file's own spelling kept for display
            place["country_name"] = place["country"]
            place["country"] = code_of(place["country"])
    source_spec = mapping["source"]
    source = {k: _value(row, source_spec[k]) for k in ("name", "side", "type")}
    figures = []
    for spec in mapping.get("figures") or []:
        value = number(row, spec["value"])
        if value is not None:
            figures.append({
                "metric": spec["metric"], "value": value,
                "low": number(row, spec["low"]) if spec.get("low") else None,
                "high": number(row, spec["high"]) if spec.get("high") else None,
                "subject": spec.get("subject"),
            })  # fmt: skip
    cited = text(row, source_spec["citation"]) if source_spec.get("citation") else None
    citation = {"url": cited} if cited and cited.startswith(("http://", "https://")) else (
        {"reference": cited} if cited else None
    )  # fmt: skip
    said = stated_at or (date if "T" in date else f"{_day(date)}T00:00:00+00:00")
    statement: dict[str, Any] = {
        "source": source,
        "stance": "claim",
        "text": (text(row, source_spec["text"]) if source_spec.get("text") else None)
        or f"{source['name']} records: {title}",
        "stated_at": said,
        "figures": figures,
        "citations": [citation] if citation else [],
    }
    statement["id"] = statement_id(mapping["namespace"], external_id, statement)
    occurred = {"start": date}
    if mapping.get("end") and (end := text(row, mapping["end"])):
        occurred["end"] = end
    return {
        "title": title,
        "kind": kind,
        "occurred": occurred,
        "location": place or None,
        "actors": [],
        "tags": [],
        "properties": {
            k: v
            for k, v in row.items()
            if k and v and (k not in named or (flags and k == kind_spec["column"]))
        },
        "external_ids": {mapping["namespace"]: external_id},
        "statements": [statement],
        **({"flags": flags} if flags else {}),
    }


def _day(date: str) -> str:
    """A date, month or year as the first day it covers (a statement's stated_at)."""
    parts = date.split("-")
    padded = parts + ["01"] * (3 - len(parts))
    try:
        return datetime(int(padded[0]), int(padded[1]), int(padded[2])).date().isoformat()
    except ValueError:
        return date

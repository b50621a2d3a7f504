"""The service's own NDJSON: one incident a line, as `/incidents?format=ndjson` writes it.

Its ``id`` names the incident (so an export loaded back into the same service changes nothing,
and into another one keeps its ids), its ``stated_at`` dates the version, ``retired`` retires it
and its ``statements`` keep their ids.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from timeline.domain.values import AMENDABLE_FIELDS
from timeline.importing.files import FileRefused, open_text, undecodable
from timeline.importing.rows import Parsed, Problem

STATEMENT_FIELDS = ("id", "source", "stance", "responds_to", "text", "stated_at", "figures",
                    "citations")  # fmt: skip


def read(
    path: Path,
    stated_at: str | None = None,
    stated_column: None = None,  # (each line carries its own stated_at)
    encoding: str = "utf-8",
) -> Iterator[Parsed]:
    """Every line of the file, mapped (a blank line is skipped)."""
    with open_text(path, encoding) as f:
        for row_number, line in _lines(f, path, encoding):
            if not line.strip():
                continue
            try:
                incident = json.loads(line)
            except ValueError as error:
                yield Parsed(row_number, None, None, [Problem(row_number, "line", str(error))])
                continue
            if not isinstance(incident, dict):
                problem = Problem(row_number, "line", "Not a JSON object.")
                yield Parsed(row_number, None, None, [problem])
                continue
            yield parse(row_number, incident, stated_at)


def _lines(f: IO[str], path: Path, encoding: str) -> Iterator[tuple[int, str]]:
    """Each line with its number; bytes that are not text refuse the file, naming where."""
    number = 0
    while True:
        number += 1
        try:
            line = f.readline()
        except UnicodeDecodeError:
            raise FileRefused(f"{path}: {undecodable(path, encoding)}") from None
        except (OSError, EOFError) as error:  # a truncated gzip file
            raise FileRefused(f"{path}: line {number} cannot be read ({error})") from None
        if not line:
            return
        yield number, line


def parse(row_number: int, incident: dict[str, Any], stated_at: str | None) -> Parsed:
    """One incident → a /batch item."""
    item: dict[str, Any] = {k: incident[k] for k in AMENDABLE_FIELDS if k in incident}
    if incident.get("flags"):  # as the export gave them (the domain finds the same ones again)
        item["flags"] = incident["flags"]
    if incident.get("id"):
        item["id"] = incident["id"]
    item["statements"] = [
        {k: s[k] for k in STATEMENT_FIELDS if k in s} for s in incident.get("statements") or []
    ]
    if stated_at or incident.get("stated_at"):
        item["stated_at"] = stated_at or incident["stated_at"]
    retired = incident.get("retired")
    if retired:
        item["retire"] = {k: retired.get(k) for k in ("reason", "duplicate_of", "note")}
    external = next(iter((incident.get("external_ids") or {}).values()), None)
    return Parsed(row_number, incident.get("id") or external, item)

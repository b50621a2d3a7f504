"""A dataset row on its way in: the item it maps to, or what is wrong with it (by column)."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid5

# Statement ids are derived from the dataset, its row and what the row says (not when), so
# re-importing the same row names the same statement, and a changed row makes a new one: the
# dataset's new claim, beside the old one.
STATEMENTS = UUID("5b0f2f0e-7d0a-4c55-9a55-3f0b7d8e2c11")


@dataclass(frozen=True)
class Problem:
    """Why a row (numbered from 1, the header not counted) cannot go in, and in which column."""

    row: int
    column: str
    reason: str


@dataclass
class Parsed:
    """One row: the /batch item it maps to, or the problems that keep it out."""

    row: int
    external_id: str | None
    item: dict[str, Any] | None
    problems: list[Problem] = field(default_factory=list)
    # Which column each domain field comes from (``occurred.start`` → ``event_date``), so the
    # writer's refusals name the dataset's own column.
    columns: Mapping[str, str] = field(default_factory=dict)


class ColumnError(ValueError):
    """A column's value cannot be read (not a number, not a date…)."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(f"{column}: {reason}")
        self.column = column
        self.reason = reason


def number(row: Mapping[str, str], column: str, *, required: bool = False) -> float | int | None:
    """A numeric column (empty: None, or a problem when required)."""
    raw = (row.get(column) or "").strip()
    if not raw:
        if required:
            raise ColumnError(column, "Missing a number.")
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ColumnError(column, f"Not a number: {raw[:40]!r}.") from None
    if not math.isfinite(value):
        raise ColumnError(column, f"Not a finite number: {raw[:40]!r}.")
    return int(value) if value.is_integer() else value


def text(row: Mapping[str, str], column: str) -> str | None:
    """A text column, stripped (empty: None)."""
    value = (row.get(column) or "").strip()
    return value or None


def statement_id(namespace: str, external_id: str, statement: Mapping[str, Any]) -> str:
    """A stable id for what a dataset's row says."""
    said = {k: v for k, v in statement.items() if k not in ("id", "stated_at")}
    digest = hashlib.sha256(json.dumps(said, sort_keys=True, default=str).encode()).hexdigest()
    digest = digest[:16]
    return str(uuid5(STATEMENTS, f"{namespace}:{external_id}:{digest}"))


def column_of(where: str, columns: Mapping[str, str]) -> str:
    """The dataset's column a domain field (``occurred.start``, ``statements.0.figures.1``)
    came from — the longest prefix ``columns`` names — or the field itself."""
    return next(
        (c for prefix, c in sorted(columns.items(), key=lambda p: -len(p[0]))
         if where == prefix or where.startswith(prefix + ".")),
        where,
    )  # fmt: skip


def moment_text(value: datetime) -> str:
    """A datetime as the API's text (UTC)."""
    return value.astimezone(UTC).isoformat()


def parse_rows(
    rows: Iterable[dict[str, str] | Problem],
    id_column: str,
    item: Callable[[dict[str, str], str], dict[str, Any]],
    columns: Mapping[str, str],
    stated_column: str | None = None,
) -> Iterator[Parsed]:
    """Each row (numbered from 1) mapped by ``item(row, its id)``: a row without an id, or one
    a column of which cannot be read, is kept out with its problem. The domain's own rules
    are the writer's (:mod:`timeline.bulk`): ``columns`` maps its fields to the dataset's
    columns. ``stated_column`` names the column that dates each row's version on the stated
    clock (a date, a time, or Unix seconds)."""
    if stated_column is not None:
        columns = {**columns, "stated_at": stated_column}
        item = _dated(item, stated_column)
    for row_number, row in enumerate(rows, start=1):
        if isinstance(row, Problem):  # the reader could not take the row (files.csv_rows)
            yield Parsed(row_number, None, None, [row])
            continue
        external_id = text(row, id_column)
        if external_id is None:
            problem = Problem(row_number, id_column, "Missing the id.")
            yield Parsed(row_number, None, None, [problem])
            continue
        try:
            yield Parsed(row_number, external_id, item(row, external_id), columns=columns)
        except ColumnError as error:
            problem = Problem(row_number, error.column, error.reason)
            yield Parsed(row_number, external_id, None, [problem])


def missing_columns(header: Sequence[str] | None, required: Iterable[str]) -> Parsed | None:
    """The file as a whole refused (row 0) when its header lacks required columns."""
    missing = [column for column in required if column not in (header or [])]
    if not missing:
        return None
    return Parsed(0, None, None, [Problem(0, ", ".join(missing), "Missing columns.")])


def _dated(
    item: Callable[[dict[str, str], str], dict[str, Any]], column: str
) -> Callable[[dict[str, str], str], dict[str, Any]]:
    """``item``, with the version dated by ``column``."""

    def dated(row: dict[str, str], external_id: str) -> dict[str, Any]:
        return {**item(row, external_id), "stated_at": stated_at_of(row, column)}

    return dated


def stated_at_of(row: Mapping[str, str], column: str) -> str:
    """When a row's version was published, from its column: ``2023-06-30`` (that day, UTC),
    a time with an offset, or Unix seconds (ACLED's ``timestamp``)."""
    raw = text(row, column)
    if raw is None:
        raise ColumnError(column, "Missing the date this version was published.")
    if raw.isdigit():
        return datetime.fromtimestamp(int(raw), UTC).isoformat()
    if len(raw) == 10 and raw[4] == "-" and raw[7] == "-":
        return f"{raw}T00:00:00+00:00"
    return raw  # a time: the domain checks it (an offset, not later than now)

"""Helpers shared by integration and end-to-end tests."""

from __future__ import annotations

from typing import Any

from timeline.projections.sql import ViewDatabase


def table_rows(views: ViewDatabase, table: str) -> list[dict[str, Any]]:
    """Every row of a table in a stable order, for comparing two builds."""
    rows = views.query(f"SELECT * FROM {table}")
    return sorted(rows, key=lambda row: tuple(str(v) for v in row.values()))

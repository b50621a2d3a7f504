"""The `sources` read model: each source's record — what it said, denied, and had denied.

One row per statement (withdrawn ones keep their withdrawal time, so "as of" works); the
per-source figures are computed by one grouped query:

- ``statements``, ``claims``, ``denials_issued``, ``corrections``, ``retractions``: by stance;
- ``denied``: this source's statements answered by a ``denial`` from a source of another side;
- ``contradicted``: this source's statements answered by another side in any stance but
  ``confirmation`` (denials included);
- ``first_statement_at`` / ``last_statement_at``: by the time the source said them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from timeline.log import LogEntry
from timeline.projections.sql import Cursor


class SourcesProjection:
    """Keeps `source_statements` in step with the log."""

    name = "sources"
    version = 2
    tables: tuple[str, ...] = ("source_statements",)

    def create_tables(self, cursor: Cursor) -> None:
        """One row per statement; answers are found through ``responds_to``."""
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS source_statements (statement_id TEXT NOT NULL, "
            "incident_id TEXT NOT NULL, source_name TEXT NOT NULL, "
            "source_side TEXT NOT NULL, source_type TEXT NOT NULL, "
            "stance TEXT NOT NULL, responds_to TEXT, stated_at TEXT NOT NULL, "
            "recorded_at TEXT NOT NULL, withdrawn_at TEXT, "
            "PRIMARY KEY (incident_id, statement_id))"
        )
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS source_statements_answers "
            "ON source_statements (incident_id, responds_to)"
        )
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS source_statements_name ON source_statements (source_name)"
        )

    def apply(self, cursor: Cursor, entries: Sequence[LogEntry]) -> None:
        """Insert statements; stamp withdrawals."""
        rows = []
        for entry in entries:
            at = entry.recorded_at.isoformat(timespec="microseconds")
            if entry.type == "StatementRecorded":
                s = entry.data["statement"]
                source = s["source"]
                rows.append(
                    (s["id"], entry.incident_id, source["name"], source["side"], source["type"],
                     s["stance"], s["responds_to"], s["stated_at"], at)
                )  # fmt: skip
            elif entry.type == "StatementWithdrawn":
                self._insert(cursor, rows)
                rows = []
                cursor.execute(
                    "UPDATE source_statements SET withdrawn_at = ? "
                    "WHERE incident_id = ? AND statement_id = ?",
                    (at, entry.incident_id, entry.data["statement_id"]),
                )
        self._insert(cursor, rows)

    @staticmethod
    def _insert(cursor: Cursor, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            cursor.executemany(
                "INSERT INTO source_statements (statement_id, incident_id, source_name, "
                "source_side, source_type, stance, responds_to, stated_at, recorded_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )


COUNTS = (
    "statements",
    "claims",
    "denials_issued",
    "corrections",
    "retractions",
    "denied",
    "contradicted",
)


def _live(alias: str, as_of: str | None) -> tuple[str, list[str]]:
    if as_of is None:
        return f"{alias}.withdrawn_at IS NULL", []
    return (
        f"{alias}.recorded_at <= ? AND ({alias}.withdrawn_at IS NULL OR {alias}.withdrawn_at > ?)",
        [as_of, as_of],
    )


def query_sources(
    cursor: Cursor, name: str | None = None, as_of: str | None = None
) -> list[dict[str, Any]]:
    """Each source's record (or one source's), most prolific first."""
    live_s, params_s = _live("s", as_of)
    live_r, params_r = _live("r", as_of)
    answered = (
        "SELECT 1 FROM source_statements r WHERE r.incident_id = s.incident_id "
        "AND r.responds_to = s.statement_id "
        f"AND r.source_side <> s.source_side AND {live_r} AND "
    )
    stance_counts = ", ".join(
        f"SUM(CASE WHEN s.stance = '{stance}' THEN 1 ELSE 0 END) AS {column}"
        for stance, column in (
            ("claim", "claims"),
            ("denial", "denials_issued"),
            ("correction", "corrections"),
            ("retraction", "retractions"),
        )
    )
    sql = (
        "SELECT s.source_name AS name, s.source_side AS side, s.source_type AS type, "
        f"COUNT(*) AS statements, {stance_counts}, "
        f"SUM(CASE WHEN EXISTS ({answered} r.stance = 'denial') THEN 1 ELSE 0 END) AS denied, "
        f"SUM(CASE WHEN EXISTS ({answered} r.stance <> 'confirmation') THEN 1 ELSE 0 END) "
        "AS contradicted, "
        "MIN(s.stated_at) AS first_statement_at, MAX(s.stated_at) AS last_statement_at "
        f"FROM source_statements s WHERE {live_s}"
        + (" AND s.source_name = ?" if name is not None else "")
        + " GROUP BY s.source_name, s.source_side, s.source_type "
        "ORDER BY COUNT(*) DESC, s.source_name"
    )
    params = [*params_r, *params_r, *params_s] + ([name] if name is not None else [])
    cursor.execute(sql, params)
    return [{**row, **{k: int(row[k] or 0) for k in COUNTS}} for row in cursor.fetchall()]

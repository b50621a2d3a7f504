"""The query layer: what the API may ask of the read models, each answer with its log position.

Every answer is read in one snapshot together with the position of the projection it comes
from, so a client knows exactly which writes it reflects. Listings page the same way: ask for
``limit`` items after a key, get them with the key to continue after (None at the end). SQL,
transactions and driver errors stay below this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from timeline.domain.values import COMMON_METRICS
from timeline.projections.aggregates import AggregatesFilter, counted, query_aggregates
from timeline.projections.ceasefires import CeasefireFilter, query_ceasefires
from timeline.projections.changes import ChangesFilter, query_changes
from timeline.projections.claims import ClaimsFilter, query_claims
from timeline.projections.clusters import cluster
from timeline.projections.framework import read_position
from timeline.projections.history import incident_history, version_at
from timeline.projections.jsontext import loads as jsonloads
from timeline.projections.ledger import head, link_at
from timeline.projections.links import footprints, held_links, open_proposals, proposal_of
from timeline.projections.sources import SourcesFilter, query_sources
from timeline.projections.sql import Cursor, ViewDatabase
from timeline.projections.timeline import (
    TimelineFilter,
    figure_metrics,
    incident_cells,
    live_statement_texts,
    live_statements,
    namespace_ids,
    query_incidents,
    query_timeline,
)
from timeline.projections.versions import Clock

__all__ = [
    "MAX_PAGE",
    "AggregatesFilter",
    "CeasefireFilter",
    "ChangesFilter",
    "ClaimsFilter",
    "Page",
    "ReadModels",
    "SourcesFilter",
    "TimelineFilter",
]

# The most items one page of any listing may hold.
MAX_PAGE = 1000


@dataclass(frozen=True)
class Page:
    """Items of a listing, the key to continue after (None: no more), the position reflected."""

    items: list[Any]
    next_key: list[Any] | None
    position: int


def _page(rows: list[Any], limit: int, key: Callable[[Any], list[Any]], position: int) -> Page:
    """A page from up to ``limit + 1`` rows: the extra row only says that more follow."""
    items = rows[:limit]
    more = len(rows) > limit
    return Page(items, key(items[-1]) if more and items else None, position)


class ReadModels:
    """The read models' queries, over one read-model database."""

    def __init__(self, views: ViewDatabase) -> None:
        self.views = views

    def _read(self, projection: str, query: Callable[[Cursor], Any]) -> tuple[Any, int]:
        with self.views.snapshot() as cursor:
            return query(cursor), read_position(cursor, projection)

    def ping(self) -> None:
        """Reach the read-model database; raises DatabaseUnavailable when it cannot."""
        self.views.query("SELECT 1 AS up")

    def position(self, projection: str) -> int:
        """The log position a projection's answers reflect now."""
        return int(self._read(projection, lambda cursor: None)[1])

    def timeline(self, where: TimelineFilter, after: Sequence[str] | None, limit: int) -> Page:
        """Timeline rows (``item`` holds each as JSON text) in time order."""
        rows, position = self._read(
            "timeline", lambda c: query_timeline(c, where, after, limit + 1)
        )
        reflects = where.at_position if where.at_position is not None else position
        return _page(rows, limit, lambda row: [row["at"], row["item_id"]], reflects)

    def incidents(self, where: TimelineFilter, after: Sequence[str] | None, limit: int) -> Page:
        """Incidents (``item``: JSON text) by when they occurred, from the timeline."""
        rows, position = self._read(
            "timeline", lambda c: query_incidents(c, where, after, limit + 1)
        )
        reflects = where.at_position if where.at_position is not None else position
        return _page(rows, limit, lambda row: [row["at"], row["item_id"]], reflects)

    def cells(self, where: TimelineFilter, degrees: float) -> Page:
        """The matching incidents counted per map cell (no paging: a map's worth)."""
        cells, position = self._read("timeline", lambda c: incident_cells(c, where, degrees))
        return Page(cells, None, where.at_position if where.at_position is not None else position)

    def aggregates(self, where: AggregatesFilter, scope: TimelineFilter | None = None) -> Page:
        """Counts over time (every bucket: one answer, no paging): kept by the `aggregates`
        projection, or — for incidents narrowed by ``scope`` (filters, a time, a clock) —
        counted from the timeline's incidents that match, by the same rules."""
        if scope is None:
            buckets, position = self._read("aggregates", lambda c: query_aggregates(c, where))
            return Page(buckets, None, position)
        export = self.export_incidents(scope)
        try:
            return Page(counted(export, where), None, export.position)
        finally:
            export.close()

    def export_incidents(self, where: TimelineFilter, page: int = 500) -> Export:
        """Every incident the filter matches, with its live statements, from one snapshot:
        iterate the answer (a page of rows at a time), then close it."""
        export = Export(self.views, "timeline", incident_pages(where, page), where.at_position)
        export.metrics = figure_metrics(export.cursor, where.at_position)
        return export

    def export_incident_lines(self, where: TimelineFilter, page: int = 1000) -> Export:
        """Every incident the filter matches, with its live statements, as NDJSON lines
        (bytes), from one snapshot (as above)."""
        return Export(self.views, "timeline", incident_line_pages(where, page), where.at_position)

    def export_timeline(self, where: TimelineFilter, page: int = 1000) -> Export:
        """Every timeline item the filter matches, from one snapshot (as above)."""
        return Export(self.views, "timeline", timeline_pages(where, page), where.at_position)

    def export_claims(self, where: ClaimsFilter, incidents: int = 200) -> Export:
        """Every figure group the filter matches, from one snapshot (as above)."""
        return Export(self.views, "claims", claim_pages(where, incidents), where.at_position)

    def external_ids(self, namespace: str) -> set[str]:
        """The ids of a dataset's namespace that name live incidents now (what an importer's
        --retire-missing compares its file with)."""
        found, _ = self._read("timeline", lambda c: namespace_ids(c, namespace))
        return found  # type: ignore[no-any-return]

    def claims(self, where: ClaimsFilter, after: Sequence[str] | None, limit: int) -> Page:
        """Figure groups of up to ``limit`` incidents, by incident id."""
        (groups, last), position = self._read(
            "claims", lambda c: query_claims(c, where, after[0] if after else None, limit)
        )
        reflects = where.at_position if where.at_position is not None else position
        return Page(groups, [last] if last else None, reflects)

    def ceasefires(self, where: CeasefireFilter, after: Sequence[str] | None, limit: int) -> Page:
        """Ceasefires by window start, each with the fighting inside it (``item``: JSON text)."""
        rows, position = self._read(
            "ceasefires", lambda c: query_ceasefires(c, where, after, limit + 1)
        )
        reflects = where.at_position if where.at_position is not None else position
        return _page(rows, limit, lambda row: [row["start"], row["id"]], reflects)

    def sources(self, where: SourcesFilter, after: Sequence[Any] | None, limit: int) -> Page:
        """Sources' records, most prolific first."""
        rows, position = self._read("sources", lambda c: query_sources(c, where, after, limit + 1))
        key = ("statements", "name", "side", "type")
        reflects = where.at_position if where.at_position is not None else position
        return _page(rows, limit, lambda row: [row[k] for k in key], reflects)

    def history(
        self,
        incident_id: str,
        as_of: str | None = None,
        clock: Clock = "recorded",
        at_position: int | None = None,
    ) -> Page:
        """Every projected version of an incident (recorded, or stated, by ``as_of``; logged
        by ``at_position``), oldest first."""
        rows, position = self._read(
            "history", lambda c: incident_history(c, incident_id, as_of, clock, at_position)
        )
        return Page(rows, None, at_position if at_position is not None else position)

    def version_at_position(self, incident_id: str, position: int) -> int | None:
        """The incident's last version logged at or before ``position`` (None: none yet)."""
        found, _ = self._read("history", lambda c: version_at(c, incident_id, position))
        return found  # type: ignore[no-any-return]

    def changes(self, where: ChangesFilter, after: Sequence[str] | None, limit: int) -> Page:
        """The incidents that changed between two moments (added, restored, changed, retired),
        by incident id."""
        rows, position = self._read(
            "timeline", lambda c: query_changes(c, where, after[0] if after else None, limit + 1)
        )
        return _page(rows, limit, lambda row: [row["id"]], position)

    def links(
        self, incident: str | None, clock: Clock, at: str | None, after: Sequence[str] | None,
        limit: int, at_position: int | None = None,
    ) -> Page:  # fmt: skip
        """The pairs linked now (or at ``at`` on ``clock``, or at a log position), by pair."""
        rows, position = self._read(
            "links", lambda c: held_links(c, incident, clock, at, after, limit + 1, at_position)
        )
        reflects = at_position if at_position is not None else position
        return _page(rows, limit, lambda row: [row["first"], row["second"]], reflects)

    def proposals(
        self,
        namespace: str | None,
        min_score: float,
        after: Sequence[Any] | None,
        limit: int,
        incident: str | None = None,
    ) -> Page:
        """Proposals not decided (of one incident), best first."""
        rows, position = self._read(
            "links", lambda c: open_proposals(c, namespace, min_score, after, limit + 1, incident)
        )
        return _page(rows, limit, lambda r: [r["score"], r["first"], r["second"]], position)

    def proposal(self, first: str, second: str) -> dict[str, Any] | None:
        """The proposal standing for a pair now (None: none)."""
        found, _ = self._read("links", lambda c: proposal_of(c, first, second))
        return found  # type: ignore[no-any-return]

    def footprints(self, namespace: str) -> tuple[list[Any], int]:
        """The live footprints of one dataset, and the position they reflect."""
        return self._read("links", lambda c: footprints(c, namespace))

    def cluster(
        self,
        incident_id: str,
        clock: Clock = "recorded",
        at: str | None = None,
        at_position: int | None = None,
    ) -> tuple[dict[str, Any] | None, int]:
        """The linked group of an incident, each member as it stood, and the position both read
        models reflect (the lower; or ``at_position``)."""
        with self.views.snapshot() as cursor:
            found = cluster(cursor, incident_id, clock, at, at_position)
            reached = min(read_position(cursor, "links"), read_position(cursor, "timeline"))
        return found, at_position if at_position is not None else reached

    def ledger_link(self, position: int) -> tuple[str | None, int]:
        """The chain's hash at a log position (None: not chained yet), and how far the ledger
        has chained."""
        return self._read("ledger", lambda c: link_at(c, position))

    def ledger_head(self) -> tuple[int, str] | None:
        """The newest link of the hash chain: (position, hex hash), or None when empty."""
        newest, _ = self._read("ledger", head)
        return newest  # type: ignore[no-any-return]


# One page of an export: (the items, the paging key after them; None when it was the last).
Pages = Callable[[Cursor, Any], tuple[list[dict[str, Any]], Any]]


class Export:
    """A whole filtered listing, read from one snapshot a page at a time: ``position`` is the
    log position it reflects (known before the first row); iterating yields its items (the
    API's shapes); ``close`` ends the snapshot (also when not iterated, e.g. a client that
    went away)."""

    def __init__(
        self, views: ViewDatabase, projection: str, pages: Pages, at_position: int | None = None
    ) -> None:
        self._context = views.snapshot()
        self.cursor = self._context.__enter__()
        self.position = (
            at_position if at_position is not None else read_position(self.cursor, projection)
        )
        # The metrics an incident CSV gives columns to (see figure_metrics).
        self.metrics: tuple[str, ...] = COMMON_METRICS
        self._pages = pages
        self._closed = False

    def __iter__(self) -> Iterator[dict[str, Any]]:
        after: Any = None
        try:
            while not self._closed:
                items, after = self._pages(self.cursor, after)
                yield from items
                if after is None:
                    return
        finally:
            self.close()  # read to the end (or stopped): the snapshot is not needed any more

    def close(self) -> None:
        """End the snapshot (idempotent)."""
        if not self._closed:
            self._closed = True
            self._context.__exit__(None, None, None)


def incident_pages(where: TimelineFilter, size: int) -> Pages:
    """Incidents with their live statements, ``size`` a page."""

    def page(cursor: Cursor, after: Any) -> tuple[list[dict[str, Any]], Any]:
        rows = query_incidents(cursor, where, after, size)
        said = live_statements(cursor, where, [row["item_id"] for row in rows])
        items = [{**jsonloads(row["item"]), "statements": said[row["item_id"]]} for row in rows]
        return items, (rows[-1]["at"], rows[-1]["item_id"]) if len(rows) == size else None

    return page


def incident_line_pages(where: TimelineFilter, size: int) -> Pages:
    """Incidents with their live statements as NDJSON lines, put together from the stored
    JSON texts (nothing parsed: the same bytes as dumping :func:`incident_pages`' items)."""

    def page(cursor: Cursor, after: Any) -> tuple[list[Any], Any]:
        rows = query_incidents(cursor, where, after, size)
        said = live_statement_texts(cursor, where, [row["item_id"] for row in rows])
        lines = [
            f'{row["item"][:-1]},"statements":[{",".join(said[row["item_id"]])}]}}\n'.encode()
            for row in rows
        ]
        return lines, (rows[-1]["at"], rows[-1]["item_id"]) if len(rows) == size else None

    return page


def timeline_pages(where: TimelineFilter, size: int) -> Pages:
    """Timeline items, ``size`` a page."""

    def page(cursor: Cursor, after: Any) -> tuple[list[dict[str, Any]], Any]:
        rows = query_timeline(cursor, where, after, size)
        items = [jsonloads(row["item"]) for row in rows]
        return items, (rows[-1]["at"], rows[-1]["item_id"]) if len(rows) == size else None

    return page


def claim_pages(where: ClaimsFilter, incidents: int) -> Pages:
    """Figure groups, those of ``incidents`` incidents a page."""

    def page(cursor: Cursor, after: Any) -> tuple[list[dict[str, Any]], Any]:
        return query_claims(cursor, where, after, incidents)

    return page

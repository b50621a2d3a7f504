"""Read models built from the log by background workers, and the machinery they share."""

from timeline.projections.aggregates import AggregatesProjection
from timeline.projections.ceasefires import CeasefiresProjection
from timeline.projections.claims import ClaimsProjection
from timeline.projections.framework import Projection
from timeline.projections.history import HistoryProjection
from timeline.projections.ledger import LedgerProjection
from timeline.projections.links import LinksProjection
from timeline.projections.sources import SourcesProjection
from timeline.projections.timeline import TimelineProjection


def all_projections() -> dict[str, Projection]:
    """Every projection the service maintains, by name."""
    projections: list[Projection] = [
        TimelineProjection(),
        HistoryProjection(),
        CeasefiresProjection(),
        ClaimsProjection(),
        SourcesProjection(),
        LedgerProjection(),
        AggregatesProjection(),
        LinksProjection(),
    ]
    return {p.name: p for p in projections}


__all__ = ["Projection", "all_projections"]

"""Deciding links between incidents: load the pair's stream, decide, save.

See :mod:`timeline.domain.link`. Both incidents must exist; the first decision on a pair opens
its stream, and two analysts deciding the same new pair at once do not both open it (the second
save fails and is tried again against the stream the first opened).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from timeline.application import TimelineApp
from timeline.domain import Conflict, IncidentNotFound
from timeline.domain.link import Link, link_stream, pair_of
from timeline.domain.matching import MIN_SCORE, Footprint, Proposal, candidate_pairs
from timeline.domain.values import By
from timeline.writing import MAX_ATTEMPTS, back_off, last_position


@dataclass(frozen=True)
class Decision:
    """What deciding did: the pair, where it stands now, and whether anything was recorded."""

    first: str
    second: str
    status: str | None
    recorded: bool
    position: int | None


def decide(
    app: TimelineApp,
    a: str,
    b: str,
    decision: object,
    reason: object,
    by: By = None,
    stated_at: object = None,
    proposal: dict[str, Any] | None = None,
) -> Decision:
    """Link, reject or unlink the pair ``a``, ``b`` (``proposal``: the matcher's, if one was
    shown); nothing is recorded when the pair stands there already."""
    first, second = pair_of(a, b)
    for index, incident in enumerate((a, b)):  # (named as the body gives them)
        if not app.exists(UUID(incident)):
            raise IncidentNotFound(f"No incident {incident}.", f"incidents.{index}")
    for attempt in range(MAX_ATTEMPTS):
        link = pair(app, first, second) or Link.open(first, second)
        if not link.decide(decision, reason, by, stated_at, proposal):
            return Decision(first, second, link.status, False, None)
        try:
            recordings = app.save(link)
        except IntegrityError:
            back_off(attempt)  # another analyst decided this pair meanwhile
            continue
        return Decision(first, second, link.status, True, last_position(recordings))
    raise Conflict("The pair kept changing while deciding; try again.", None)


def pair(app: TimelineApp, a: str, b: str) -> Link | None:
    """The decisions on a pair so far (None: never decided)."""
    try:
        link: Link = app.repository.get(link_stream(a, b))
    except AggregateNotFoundError:
        return None
    return link


def propose_between(
    left: Sequence[Footprint],
    right: Sequence[Footprint],
    min_score: float = MIN_SCORE,
    on_each: Callable[[int], None] | None = None,
) -> list[Proposal]:
    """Every proposal between two datasets' footprints, best first (``on_each``: told how many
    of ``left`` were looked at, as it goes)."""

    def counted() -> Iterator[Footprint]:
        for done, fp in enumerate(left, 1):
            yield fp
            if on_each is not None and done % 1000 == 0:
                on_each(done)

    found = list(candidate_pairs(counted(), right, min_score))
    if on_each is not None:
        on_each(len(left))
    return sorted(found, key=lambda p: (-p.score, p.first, p.second))


def link_proposals(
    app: TimelineApp, proposals: Iterable[Proposal], at_least: float, reason: str, by: By = None
) -> int:
    """Link each proposal scoring ``at_least`` (keeping its score and reasons), except pairs
    an analyst rejected or unlinked: how many links were recorded."""
    linked = 0
    for proposal in proposals:
        if proposal.score < at_least:
            continue
        held = pair(app, proposal.first, proposal.second)
        if held is not None:
            continue  # decided before: an analyst's decision is not overridden
        shown = {"score": proposal.score, "reasons": list(proposal.reasons)}
        done = decide(app, proposal.first, proposal.second, "link", reason, by, None, shown)
        linked += done.recorded
    return linked


def write_proposals(path: Path, proposals: Iterable[Proposal], labels: dict[str, str]) -> None:
    """The proposals as CSV: each pair's incident ids, its datasets' ids, score and reasons."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["first", "second", "first_ids", "second_ids", "score", "reasons"])
        for p in proposals:
            writer.writerow([p.first, p.second, labels.get(p.first, ""),
                             labels.get(p.second, ""), p.score, "; ".join(p.reasons)])  # fmt: skip

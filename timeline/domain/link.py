"""Link: an analyst's decisions on whether two incidents are the same event.

One stream per pair of incidents (its id follows from the two ids, whichever order they are
given in), so every decision on a pair — linked, rejected, unlinked again — is an event in one
place, with who made it and why, replayable on both clocks ("which links did we hold at T?").
A confirmed proposal is a link that carries the matcher's score and reasons as the analyst saw
them; a rejected pair is never proposed again until the rejection is undone.
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from timeline.domain import values
from timeline.domain.errors import Conflict, InvalidValue
from timeline.domain.values import By

# uuid5 namespace of link streams (fixed: changing it would orphan every stored decision).
LINKS = uuid5(NAMESPACE_URL, "https://conflict-timeline.invalid/links")
DECISIONS = ("link", "reject", "unlink")
# What a pair is after each decision (None: undecided).
STATUS_AFTER = {"link": "linked", "reject": "rejected", "unlink": None}
MAX_REASONS = 20


def pair_of(a: str, b: str) -> tuple[str, str]:
    """The pair's two incident ids in their one order (as text)."""
    if a == b:
        raise InvalidValue("An incident cannot be linked to itself.", "incidents")
    first, second = sorted((a, b))
    return first, second


def link_stream(a: str, b: str) -> UUID:
    """The id of the stream that holds the decisions on one pair."""
    first, second = pair_of(a, b)
    return uuid5(LINKS, f"{first}|{second}")


class Link(Aggregate):
    """The decisions on one pair of incidents; ``status`` is where the last one left it."""

    class PairOpened(Aggregate.Created):
        """The first decision on this pair is being made."""

        first: str
        second: str

    class Decided(Aggregate.Event):
        """An analyst linked, rejected or unlinked the pair, and why; a link that confirms a
        proposal keeps its score and reasons."""

        decision: str
        reason: str
        by: By = None
        stated_at: str | None = None
        score: float | None = None
        reasons: list[str] | None = None

    @staticmethod
    def create_id(first: str, second: str) -> UUID:
        """The stream's id follows from the pair (the library calls this)."""
        return link_stream(first, second)

    @event(PairOpened)
    def __init__(self, first: str, second: str) -> None:
        self.first = first
        self.second = second
        self.status: str | None = None

    @classmethod
    def open(cls, a: str, b: str) -> Link:
        """A new pair, not yet decided."""
        first, second = pair_of(a, b)
        return cls(first=first, second=second)

    def decide(
        self,
        decision: object,
        reason: object,
        by: By = None,
        stated_at: object = None,
        proposal: dict[str, Any] | None = None,
    ) -> bool:
        """Record a decision; False (nothing recorded) when it is where the pair stands already.

        Unlinking undoes a link or a rejection; it is refused on an undecided pair.
        """
        decision = values.choice(decision, DECISIONS, "decision")
        reason = values.text(reason, "reason", max_length=values.MAX_REASON)
        stated = values.stated_at(stated_at) if stated_at is not None else None
        if decision == "unlink" and self.status is None:
            raise Conflict("The pair is neither linked nor rejected.", "decision")
        if STATUS_AFTER[decision] == self.status:
            return False
        score = reasons = None
        if decision == "link" and proposal is not None:
            score = float(proposal["score"])
            reasons = [str(r) for r in proposal["reasons"]][:MAX_REASONS]
        self._decided(decision, reason, by, stated, score, reasons)
        return True

    @event(Decided)
    def _decided(
        self,
        decision: str,
        reason: str,
        by: By,
        stated_at: str | None,
        score: float | None,
        reasons: list[str] | None,
    ) -> None:
        self.status = STATUS_AFTER[decision]

"""Quality flags: where a source broke its own rules, recorded beside what it published.

A dataset's release is evidence: a best estimate outside its own low-high range, an end before
its start, a place without a name are what the source said, and an analyst must be able to
show it. So such a row is stored as published, with a flag on that version (a stable code, the
field, a message) — when the writer says it records a source as published (an import,
``/batch`` with ``as_published``). An analyst's own write stays strict: the same breach is
refused with a 422, as before. A few flags are only information (a date in the future may be a
planned ceasefire): they are set on every write and refuse none.

What cannot be stored at all (no date, a non-finite number, a value over a size limit) is
refused on every path: that is not a quality question.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from timeline.domain.errors import InvalidValue

# code → what it means (the README's table is made from the same words).
CODES = {
    "best_outside_range": "a figure's value lies outside its own low-high range",
    "low_above_high": "a figure's low is greater than its high",
    "end_before_start": "the period ends before it starts",
    "null_island": "the coordinates are (0, 0), almost always a missing value",
    "outside_country": "the coordinates lie outside the country the row names",
    "occurred_in_future": "the incident starts after the time it was recorded",
    "occurred_after_release": "the incident starts after the release that lists it",
    "stated_in_future": "the statement is dated after the time it was recorded",
    "stated_after_release": "the statement is dated after the release that lists it",
    "unnamed_place": "the place has no name: one was made from what the row gives",
    "unmapped_category": "a category value the mapping does not know: its default applies",
}

Flag = dict[str, str]


@dataclass
class Findings:
    """The flags one write collects, and whether a breach is flagged or refused.

    ``as_published``: the writer records a source as published (flag breaches); otherwise
    breaches are refused. ``release``: when the release being written was published (canonical
    UTC text), for the checks against it.
    """

    as_published: bool = False
    release: str | None = None
    flags: list[Flag] = field(default_factory=list)

    def breach(self, code: str, where: str, message: str) -> None:
        """The source broke one of its own rules: flag it, or refuse the write when strict."""
        if not self.as_published:
            raise InvalidValue(message, where)
        self.note(code, where, message)

    def note(self, code: str, where: str, message: str) -> None:
        """Flag something worth knowing that refuses nothing (on every path)."""
        assert code in CODES, code
        flag = {"code": code, "field": where, "message": message}
        if flag not in self.flags:
            self.flags.append(flag)

    def given(self, flags: object, where: str = "flags") -> None:
        """Flags a writer found itself (an importer's unmapped category), kept when it records
        a source as published; a strict write may not send any."""
        if flags is None or flags == []:
            return
        if not self.as_published or not isinstance(flags, list):
            raise InvalidValue("Flags are set by the service, not sent.", where)
        for index, flag in enumerate(flags):
            if not isinstance(flag, dict) or flag.get("code") not in CODES:
                raise InvalidValue(f"Must be one of: {', '.join(CODES)}.", f"{where}.{index}")
            self.note(flag["code"], str(flag.get("field") or ""), str(flag.get("message") or ""))

    def later_than_now(self, moment: str, code: str, where: str, what: str) -> None:
        """Flag a moment after now (``code``), or after the release (its ``_after_release``)."""
        if datetime.fromisoformat(moment) > datetime.now(UTC):
            self.note(code, where, f"{what} is after the time it was recorded.")
        elif self.release is not None and moment > self.release:
            released = code.replace("_in_future", "_after_release")
            self.note(released, where, f"{what} is after the release that lists it.")


def replaced(old: list[Flag], new: list[Flag], groups: Any) -> list[Flag]:
    """The flags after a write of ``groups``: the old ones of other fields, then the new."""
    kept = [f for f in old if f["field"].split(".")[0] not in groups]
    return kept + [f for f in new if f not in kept]

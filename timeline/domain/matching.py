"""Reconciliation: which incidents of different datasets may be the same event, and why.

The same shelling arrives as an ACLED row, a UCDP GED row, a monitor's entry and an analyst's
own incident: dates a day apart, coordinates a few kilometres apart, other place names, other
kinds and counts. Two incidents are proposed as the same event when they come from different
datasets and

- their dates overlap once each is widened by its own time precision (a date known to the day
  may be a day off; one known to the month, a month);
- their places lie within the sum of each side's place precision (an exact point ~5 km, an
  admin2 centroid ~40 km); places known only to a region or country must share it;
- their kinds are compatible (a UCDP "battle" and an ACLED "shelling" are both fighting; a
  protest is not);

and then scored (0 to 1) on how close the dates and places are, how alike the kinds, and which
actors they share, with the reasons in words. Nothing here writes: a proposal is a suggestion
an analyst confirms or rejects (:mod:`timeline.domain.link`).

Comparing every pair of two 100,000-row datasets is 10^10 pairs; candidates are found by
*blocking* instead: each footprint is filed under the map cells and days it may touch
(:func:`filed_under`), and looked up under those it may match (:func:`looked_up_under`), so only
incidents near in both space and time are ever scored.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# An incident without a dataset's id is an analyst's own: its own "dataset".
OWN = "own"
DAY = 86_400.0
# How far off a time of each precision may be (seconds).
TIME_SLACK = {
    "minute": 3_600.0,  # a reported time is often the hour of the report, not of the event
    "hour": 3 * 3_600.0,
    "day": DAY,
    "week": 7 * DAY,
    "month": 31 * DAY,
    "year": 366 * DAY,
}
# How long something known only to a precision may have lasted, when no end is given.
TIME_SPAN = {"minute": 60.0, "hour": 3_600.0, "day": DAY, "week": 7 * DAY,
             "month": 31 * DAY, "year": 366 * DAY}  # fmt: skip
# How far a point of each place precision may lie from where it happened (km); None: the
# place is known only as a region or country, and its coordinates (a centroid) say little.
PLACE_RADIUS_KM: dict[str | None, float | None] = {
    "exact": 5.0,
    "near": 10.0,
    "admin3": 15.0,
    "admin2": 40.0,
    "admin1": None,
    "country": None,
    "region": None,
    None: 10.0,  # coordinates without a precision: as a nearby point
}
# Kinds that may describe the same event, and how alike (same kind: 1).
KIND_FAMILIES = (
    frozenset({"strike", "shelling", "explosion", "battle", "violence_against_civilians",
               "violation"}),
    frozenset({"protest", "riot"}),
    frozenset({"mobilisation", "deployment"}),
    frozenset({"assessment", "diplomacy"}),
    frozenset({"ceasefire"}),
)  # fmt: skip
SAME_FAMILY, OTHER_KIND = 0.6, 0.3
WEIGHTS = {"time": 0.35, "place": 0.35, "kind": 0.15, "actors": 0.15}
# Proposals below this score are not made.
MIN_SCORE = 0.55
# Blocking: map cells of one degree; spans longer than this are filed as "long" (by cell only).
CELL_DEGREES = 1.0
MAX_FILED_DAYS = 15
EARTH_KM = 6_371.0
KM_PER_DEGREE = math.pi * EARTH_KM / 180


@dataclass(frozen=True)
class Footprint:
    """What matching needs of an incident: its datasets, kind, when (as a widened interval of
    Unix seconds), where and how precisely, and who was involved."""

    incident_id: str
    namespaces: frozenset[str]
    kind: str
    start: float
    end: float
    slack: float
    precision: str
    lat: float | None = None
    lon: float | None = None
    radius_km: float | None = None
    country: str | None = None
    admin1: str | None = None
    place: str | None = None
    actors: frozenset[str] = field(default_factory=frozenset)
    sides: frozenset[str] = field(default_factory=frozenset)
    # Its datasets' own ids ("acled:UKR7000"), to name it in a report.
    labels: tuple[str, ...] = ()

    @property
    def pinned(self) -> bool:
        """Placed by coordinates precise enough to measure distances between."""
        return self.lat is not None and self.lon is not None and self.radius_km is not None

    @property
    def earliest(self) -> float:
        """The earliest moment it may have happened, given its precision."""
        return self.start - self.slack

    @property
    def latest(self) -> float:
        """The latest."""
        return self.end + self.slack

    def to_dict(self) -> dict[str, Any]:
        """Plain data (read models keep it as JSON)."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        for name in ("namespaces", "actors", "sides"):
            data[name] = sorted(data[name])
        data["labels"] = list(self.labels)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Footprint:
        """The footprint :meth:`to_dict` gave."""
        values = dict(data)
        for name in ("namespaces", "actors", "sides"):
            values[name] = frozenset(values[name])
        values["labels"] = tuple(values.get("labels") or ())
        return cls(**values)


@dataclass(frozen=True)
class Proposal:
    """Two incidents that may be the same event: ``first`` < ``second`` (ids as text)."""

    first: str
    second: str
    score: float
    reasons: tuple[str, ...]


def footprint(incident: Mapping[str, Any]) -> Footprint | None:
    """The footprint of an incident in the API's shape (id, kind, occurred, location, actors,
    external_ids); None when it cannot be matched (no place at all)."""
    location = incident.get("location") or {}
    country, lat, lon = location.get("country"), location.get("lat"), location.get("lon")
    if country is None and lat is None:
        return None
    occurred = incident["occurred"]
    precision = occurred.get("precision") or "minute"
    start = _seconds(occurred["start"])
    end = _seconds(occurred["end"]) if occurred.get("end") else start + TIME_SPAN[precision]
    place_precision = location.get("precision")
    radius = PLACE_RADIUS_KM.get(place_precision, PLACE_RADIUS_KM[None])
    actors = incident.get("actors") or []
    return Footprint(
        incident_id=str(incident["id"]),
        namespaces=frozenset(incident.get("external_ids") or {}) or frozenset({OWN}),
        kind=incident["kind"],
        start=start,
        end=max(end, start),
        slack=TIME_SLACK[precision],
        precision=precision,
        lat=float(lat) if lat is not None else None,
        lon=float(lon) if lon is not None else None,
        radius_km=radius if lat is not None else None,
        country=country,
        admin1=_folded(location.get("admin1")),
        place=location.get("name"),
        actors=frozenset(
            str(_folded(a.get("code") or a.get("name")))
            for a in actors
            if a.get("code") or a.get("name")
        ),
        sides=frozenset(a["side"].upper() for a in actors if a.get("side")),
        labels=tuple(f"{k}:{v}" for k, v in sorted((incident.get("external_ids") or {}).items())),
    )


def compare(a: Footprint, b: Footprint, min_score: float = MIN_SCORE) -> Proposal | None:
    """The proposal that ``a`` and ``b`` are the same event, or None when they cannot be (same
    dataset, dates or places too far apart, kinds unlike) or score below ``min_score``."""
    if a.incident_id == b.incident_id or a.namespaces & b.namespaces:
        return None
    if b.incident_id < a.incident_id:  # the reasons speak of the pair in its one order
        a, b = b, a
    scores: dict[str, float] = {}
    reasons: list[str] = []
    for part in (_time, _place, _kind, _actors):
        found = part(a, b)
        if found is None:
            return None
        name, score, reason = found
        scores[name] = score
        reasons.append(reason)
    total = round(sum(WEIGHTS[name] * score for name, score in scores.items()), 3)
    if total < min_score:
        return None
    return Proposal(a.incident_id, b.incident_id, total, tuple(reasons))


def _time(a: Footprint, b: Footprint) -> tuple[str, float, str] | None:
    gap = max(a.start, b.start) - min(a.end, b.end)
    if gap < 0:
        return "time", 1.0, f"dates overlap ({_day(a.start)} and {_day(b.start)})"
    allowed = a.slack + b.slack
    if gap >= allowed:  # (the widened intervals' ends are exclusive: touching is apart)
        return None
    return (
        "time",
        1 - gap / allowed,
        (
            f"dates {_duration(abs(b.start - a.start))} apart ({_day(a.start)} and "
            f"{_day(b.start)}), within {a.precision} and {b.precision} precision"
        ),
    )


def _place(a: Footprint, b: Footprint) -> tuple[str, float, str] | None:
    if a.country and b.country and a.country != b.country:
        return None
    if a.pinned and b.pinned:
        assert a.radius_km is not None and b.radius_km is not None  # (pinned)
        distance = distance_km(a, b)
        allowed = a.radius_km + b.radius_km
        if distance > allowed:
            return None
        differ = a.place and b.place and a.place != b.place
        names = f"; named {a.place!r} and {b.place!r}" if differ else ""
        return (
            "place",
            1 - 0.5 * distance / allowed,
            (f"{distance:.1f} km apart (within {allowed:.0f} km){names}"),
        )
    if a.admin1 and b.admin1:
        if a.admin1 != b.admin1:
            return None
        return "place", 0.5, f"both in {a.admin1} (one place known only to its region)"
    if a.country and b.country:
        return "place", 0.3, f"both in {a.country} (one place known only to its country)"
    return None


def _kind(a: Footprint, b: Footprint) -> tuple[str, float, str] | None:
    if a.kind == b.kind:
        return "kind", 1.0, f"both {a.kind}"
    if "other" in (a.kind, b.kind):
        return "kind", OTHER_KIND, f"{a.kind} and {b.kind}"
    if any(a.kind in family and b.kind in family for family in KIND_FAMILIES):
        return "kind", SAME_FAMILY, f"{a.kind} and {b.kind} (alike)"
    return None


def _actors(a: Footprint, b: Footprint) -> tuple[str, float, str]:
    if shared := a.actors & b.actors:
        return "actors", 1.0, f"shared actor(s): {', '.join(sorted(shared))}"
    if shared := a.sides & b.sides:
        return "actors", 0.6, f"shared side(s): {', '.join(sorted(shared))}"
    if not (a.actors or a.sides) or not (b.actors or b.sides):
        return "actors", 0.5, "actors not given on one side"
    return "actors", 0.0, "no actor in common"


def distance_km(a: Footprint, b: Footprint) -> float:
    """Great-circle distance between two pinned footprints (haversine)."""
    assert a.lat is not None and a.lon is not None and b.lat is not None and b.lon is not None
    phi1, phi2 = math.radians(a.lat), math.radians(b.lat)
    dphi, dlambda = phi2 - phi1, math.radians(b.lon - a.lon)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(h)))


# ------------------------------------------------------------------------------ blocking
#
# A key is (cell, day): ``cell`` a one-degree map cell ("12:-5"), a country's pinned incidents
# ("in:UA") or a country's incidents placed only by region or country ("coarse:UA"); ``day``
# a Unix day its widened interval touches, or LONG for incidents whose interval spans
# MAX_FILED_DAYS days or more (filed once per cell, and looked up whatever the days).

Key = tuple[str, int]
LONG = -1


def filed_under(fp: Footprint) -> list[Key]:
    """The keys an incident is filed under, for others to find it by."""
    cells = [_cell(fp.lat, fp.lon)] if fp.pinned else []
    if fp.country:
        cells.append(("in:" if fp.pinned else "coarse:") + fp.country)
    return [(cell, day) for cell in cells for day in _days(fp)]


def looked_up_under(fp: Footprint) -> tuple[list[str], int, int]:
    """Where every incident that may match ``fp`` is filed: the cells, and the first and last
    day (incidents filed as LONG are looked up under every cell too)."""
    cells: list[str] = []
    if fp.pinned:
        assert fp.lat is not None and fp.lon is not None and fp.radius_km is not None
        reach = fp.radius_km + max(r for r in PLACE_RADIUS_KM.values() if r is not None)
        rows = math.ceil(reach / (KM_PER_DEGREE * CELL_DEGREES))
        width = max(math.cos(math.radians(min(abs(fp.lat) + rows * CELL_DEGREES, 89.0))), 0.01)
        columns = min(math.ceil(reach / (KM_PER_DEGREE * CELL_DEGREES * width)), 180)
        row0, column0 = _cell_of(fp.lat, fp.lon)
        cells += [
            f"{row0 + dr}:{_wrapped(column0 + dc)}"
            for dr in range(-rows, rows + 1)
            for dc in range(-columns, columns + 1)
        ]
    if fp.country:
        cells.append("coarse:" + fp.country)
        if not fp.pinned:
            cells.append("in:" + fp.country)
    return cells, int(fp.earliest // DAY), int(fp.latest // DAY)


def candidate_pairs(
    left: Iterable[Footprint], right: Iterable[Footprint], min_score: float = MIN_SCORE
) -> Iterator[Proposal]:
    """Every proposal between an incident of ``left`` and one of ``right`` (datasets apart),
    found by blocking: each pair scored once."""
    index: dict[Key, list[Footprint]] = {}
    for fp in right:
        for key in filed_under(fp):
            index.setdefault(key, []).append(fp)
    for a in left:
        seen: set[str] = set()
        cells, first, last = looked_up_under(a)
        for cell in cells:
            for day in (LONG, *range(first, last + 1)):
                for b in index.get((cell, day), ()):
                    if b.incident_id not in seen:
                        seen.add(b.incident_id)
                        if (proposal := compare(a, b, min_score)) is not None:
                            yield proposal


def _days(fp: Footprint) -> list[int]:
    """The Unix days an incident's widened interval touches ([LONG] when too many to file)."""
    first, last = int(fp.earliest // DAY), int(fp.latest // DAY)
    return list(range(first, last + 1)) if last - first < MAX_FILED_DAYS else [LONG]


def _cell_of(lat: float, lon: float) -> tuple[int, int]:
    return math.floor(lat / CELL_DEGREES), math.floor(lon / CELL_DEGREES)


def _cell(lat: float | None, lon: float | None) -> str:
    assert lat is not None and lon is not None
    row, column = _cell_of(lat, lon)
    return f"{row}:{_wrapped(column)}"


def _wrapped(column: int) -> int:
    """Cells across the antimeridian are neighbours."""
    columns = round(360 / CELL_DEGREES)
    return (column + columns // 2) % columns - columns // 2


def _seconds(moment: str) -> float:
    return datetime.fromisoformat(moment).timestamp()


def _day(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).date().isoformat()


def _duration(seconds: float) -> str:
    if seconds >= DAY:
        days = seconds / DAY
        return f"{days:.0f} day{'s' if round(days) != 1 else ''}"
    return f"{seconds / 3600:.0f} h"


def _folded(value: object) -> str | None:
    return " ".join(str(value).split()).casefold() if value else None

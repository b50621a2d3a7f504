"""The matcher's rules one by one, blocking against every pair, and decisions on a pair."""

from __future__ import annotations

import random
from typing import Any

import pytest

from timeline.domain import Conflict, InvalidValue
from timeline.domain.link import Link
from timeline.domain.matching import Footprint, candidate_pairs, compare, footprint


def incident(
    n: int, namespace: str | None, start: str = "2023-03-01", lat: float | None = 48.74,
    lon: float | None = 37.58, precision: str = "day", place: str | None = "exact",
    kind: str = "shelling", country: str | None = "UA", **more: Any,
) -> Footprint:  # fmt: skip
    location = {"name": f"place {n}", "country": country, "lat": lat, "lon": lon,
                "precision": place, "admin1": more.pop("admin1", None)}  # fmt: skip
    found = footprint({
        "id": f"{n:08d}-0000-4000-8000-000000000000", "kind": kind,
        "external_ids": {namespace: str(n)} if namespace else {},
        "occurred": {"start": f"{start}T00:00:00+00:00", "end": more.pop("end", None),
                     "precision": precision},
        "location": location, "actors": more.pop("actors", []),
    })  # fmt: skip
    assert found is not None
    return found


def north(km: float) -> float:
    return 48.74 + km / 111.2


def test_the_same_day_and_place_in_two_datasets_is_proposed_with_reasons() -> None:
    found = compare(incident(1, "acled"), incident(2, "ucdp-ged", lat=north(4)))
    assert found is not None and 0.55 <= found.score <= 1
    assert found.reasons[0] == "dates overlap (2023-03-01 and 2023-03-01)"
    assert found.reasons[1].startswith("4.0 km apart (within 10 km)")


@pytest.mark.parametrize(
    ("other", "why"),
    [
        ({"start": "2023-03-02"}, "a day later, day precision: still within it"),
        ({"start": "2023-03-03"}, "two days later: within a day's slack on each side"),
        ({"lat": north(9)}, "9 km: within exact + exact (5 + 5)"),
        ({"lat": north(30), "place": "admin2"}, "30 km from an admin2 centroid (5 + 40)"),
        ({"kind": "battle"}, "a battle and a shelling are both fighting"),
        ({"lat": None, "lon": None, "place": "country"}, "known only to its country"),
    ],
)
def test_within_each_sides_precision_is_proposed(other: dict[str, Any], why: str) -> None:
    assert compare(incident(1, "acled"), incident(2, "monitor", **other)) is not None, why


@pytest.mark.parametrize(
    ("other", "why"),
    [
        ({"start": "2023-03-04"}, "three days apart at day precision"),
        ({"lat": north(11)}, "11 km apart, both exact"),
        ({"kind": "protest"}, "a protest is not a shelling"),
        ({"country": "RU"}, "another country"),
        ({"lat": None, "lon": None, "place": "admin1", "admin1": "Kharkiv"}, "another region"),
    ],
)
def test_a_near_miss_is_not_proposed(other: dict[str, Any], why: str) -> None:
    base = incident(1, "acled", admin1="Donetsk")
    assert compare(base, incident(2, "monitor", **other)) is None, why


def test_a_dataset_is_never_matched_with_itself() -> None:
    assert compare(incident(1, "acled"), incident(2, "acled")) is None
    assert compare(incident(1, None), incident(2, None)) is None  # analysts' own incidents
    assert compare(incident(1, None), incident(2, "acled")) is not None


def test_a_month_precise_date_reaches_a_month() -> None:
    month = incident(1, "ucdp-ged", start="2023-03-01", precision="month")
    assert compare(month, incident(2, "acled", start="2023-03-28")) is not None
    assert compare(month, incident(2, "acled", start="2023-05-20")) is None


def test_shared_actors_score_higher() -> None:
    russia = [{"name": "Military Forces of Russia", "side": "RU"}]
    plain = compare(incident(1, "a", actors=russia), incident(2, "b", actors=[
        {"name": "Government of Ukraine", "side": "UA"}]))  # fmt: skip
    shared = compare(incident(1, "a", actors=russia), incident(2, "b", actors=russia))
    assert plain is not None and shared is not None and shared.score > plain.score
    assert "shared actor(s): military forces of russia" in shared.reasons


def test_blocking_finds_exactly_the_pairs_every_pair_would() -> None:
    """On random incidents, dense enough to match often, with every precision."""
    rng = random.Random(20261207)

    def random_incident(n: int, namespace: str) -> Footprint:
        coarse = rng.random() < 0.1
        return incident(
            n, namespace, start=f"2023-03-{rng.randint(1, 28):02d}",
            lat=None if coarse else rng.uniform(48.0, 49.5),
            lon=None if coarse else rng.uniform(36.0, 38.5),
            precision=rng.choice(["minute", "hour", "day", "day", "week", "month"]),
            place="country" if coarse else rng.choice(["exact", "near", "admin3", "admin2", None]),
            kind=rng.choice(["shelling", "strike", "battle", "protest", "other"]),
        )  # fmt: skip

    left = [random_incident(n, "a") for n in range(300)]
    right = [random_incident(1000 + n, "b") for n in range(300)]
    blocked = {(p.first, p.second, p.score) for p in candidate_pairs(left, right)}
    every = {(p.first, p.second, p.score) for a in left for b in right
             if (p := compare(a, b)) is not None}  # fmt: skip
    assert len(every) > 100  # (dense enough to mean something)
    assert blocked == every


def test_decisions_on_a_pair() -> None:
    link = Link.open("b", "a")
    assert (link.first, link.second) == ("a", "b")
    with pytest.raises(Conflict):
        link.decide("unlink", "nothing to undo")
    assert link.decide("link", "the same strike", proposal={"score": 0.8, "reasons": ["x"]})
    assert not link.decide("link", "again")  # already linked: nothing recorded
    assert link.decide("reject", "not the same after all") and link.status == "rejected"
    assert link.decide("unlink", "undecided again") and link.status is None
    with pytest.raises(InvalidValue):
        link.decide("merge", "no such decision")
    with pytest.raises(InvalidValue):
        Link.open("a", "a")
    events = link.collect_events()
    assert [type(e).__name__ for e in events] == ["PairOpened", "Decided", "Decided", "Decided"]
    assert events[1].score == 0.8 and events[1].reasons == ["x"]

"""Countries as ISO 3166-1 codes, whatever a writer or a dataset calls them, and the side of
actors that datasets name as a country's state forces."""

from __future__ import annotations

import pytest

from timeline.domain import InvalidValue
from timeline.domain.countries import code_of, outside, side_of_actor, wanted
from timeline.domain.values import location


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ("UA", "UA"),
        ("ua", "UA"),
        ("UKR", "UA"),
        ("804", "UA"),
        ("Ukraine", "UA"),
        ("4", "AF"),  # ACLED's iso column without its leading zeros
        ("Russia", "RU"),
        ("Russia (Soviet Union)", "RU"),  # UCDP GED's former name in brackets
        ("DR Congo (Zaire)", "CD"),
        ("Democratic Republic of Congo", "CD"),
        ("Côte d'Ivoire", "CI"),
        ("Cote d\u2019Ivoire", "CI"),
        ("Kosovo", "XK"),
        ("Bosnia-Herzegovina", "BA"),
        ("the Central African Republic", "CF"),
        ("  central   african republic ", "CF"),
        ("Atlantis", None),
        ("", None),
        (None, None),
    ],
)
def test_a_code_a_number_or_a_name_finds_the_alpha_2_code(given: str | None, code: str) -> None:
    assert code_of(given) == code


@pytest.mark.parametrize(
    ("actor", "side"),
    [
        ("Military Forces of Russia (2022-)", "RU"),
        ("Military Forces of the Central African Republic (2016-)", "CF"),
        ("Police Forces of Ukraine (2019-) Prison Guards", "UA"),
        ("Government of Ukraine", "UA"),
        ("Government of Russia (Soviet Union)", "RU"),
        ("Government of DR Congo (Zaire)", "CD"),
        ("Wagner Group", None),
        ("Unidentified Armed Group (Central African Republic)", None),
        ("Protesters (Ukraine)", None),
        ("Military Forces of Atlantis", None),
        (None, None),
    ],
)
def test_state_forces_and_governments_take_their_countrys_side(
    actor: str | None, side: str | None
) -> None:
    assert side_of_actor(actor) == side


def test_a_place_keeps_the_code_and_the_name_it_was_given() -> None:
    given = location({"name": "Kyiv", "country": "Ukraine", "precision": "exact"})
    assert (given["country"], given["country_name"]) == ("UA", "Ukraine")
    coded = location({"name": "Kyiv", "country": "UKR", "precision": "exact"})
    assert (coded["country"], coded["country_name"]) == ("UA", "Ukraine")
    named = location({"name": "Bangui", "country": "CF", "country_name": "CAR"})
    assert (named["country"], named["country_name"]) == ("CF", "CAR")


def test_an_unknown_country_names_the_field_and_a_name_alone_is_kept() -> None:
    with pytest.raises(InvalidValue) as refused:
        location({"name": "X", "country": "Atlantis"})
    assert refused.value.field == "location.country" and "ISO 3166-1" in str(refused.value)
    kept = location({"name": "X", "country_name": "Atlantis"})
    assert (kept["country"], kept["country_name"]) == (None, "Atlantis")


@pytest.mark.parametrize("asked", ["UA", "ua", "Ukraine", "UKR"])
def test_a_filter_asks_for_the_code(asked: str) -> None:
    assert wanted(asked) == "UA"
    assert wanted("Atlantis") == "Atlantis"  # a place known only by a name is found by it


@pytest.mark.parametrize(
    ("code", "lat", "lon", "outside_it"),
    [("UA", 48.72, 37.56, False), ("UA", 48.86, 2.35, True), ("UA", 52.5, 40.3, False),
     ("CF", 4.36, 18.56, False), ("CF", 18.56, 4.36, True), ("XK", 0.0, 0.0, False),
     (None, 10.0, 10.0, False)],
)  # fmt: skip
def test_a_point_clearly_outside_its_country_is_told(
    code: str | None, lat: float, lon: float, outside_it: bool
) -> None:
    # (52.5, 40.3) is in Russia, within a degree of Ukraine's box: coarse shapes, no flag
    assert outside(code, lat, lon) is outside_it

"""Countries as ISO 3166-1 alpha-2 codes, whatever a writer or a dataset calls them.

The demo said ``UA``, ACLED says ``Ukraine`` and UCDP GED ``Russia (Soviet Union)``: stored as
given, ``country=Ukraine`` missed the demo and ``country=UA`` every imported row. Every place
now stores the code (and the name it was given, for display), and filters accept either.
Names come from ``pycountry`` (ISO 3166-1: codes, names, official and common names), matched
without regard to case or accents, plus the spellings conflict datasets use that ISO does not
(:data:`ALIASES`) and the former names UCDP adds in brackets.

Actors named as a country's state forces (ACLED's "Military Forces of Russia (2022-)", UCDP's
"Government of Ukraine") stand for that country: :func:`side_of_actor` says which.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pycountry

# Spellings used by ACLED, UCDP GED and the press that ISO 3166-1 does not list, and Kosovo,
# which has no ISO code but the user-assigned XK that the EU, the IMF and ACLED's users use.
ALIASES = {
    "russia": "RU",
    "dr congo": "CD",
    "democratic republic of congo": "CD",
    "democratic republic of the congo": "CD",
    "congo, dr": "CD",
    "republic of congo": "CG",
    "republic of the congo": "CG",
    "congo-brazzaville": "CG",
    "ivory coast": "CI",
    "kosovo": "XK",
    "palestine": "PS",
    "turkey": "TR",
    "cape verde": "CV",
    "macedonia": "MK",
    "macedonia, fyr": "MK",
    "burma": "MM",
    "swaziland": "SZ",
    "east timor": "TL",
    "brunei": "BN",
    "micronesia": "FM",
    "vatican": "VA",
    "syria": "SY",
    "gaza strip": "PS",
    "west bank": "PS",
    "united states of america": "US",
    "great britain": "GB",
    "kingdom of eswatini": "SZ",
    "yugoslavia": "RS",
    "soviet union": "RU",
    "bosnia-herzegovina": "BA",
    "bosnia and herzegovina": "BA",
    "united kingdom": "GB",
    "uk": "GB",
    "usa": "US",
}
# Names shown for codes whose ISO name is long-winded or missing.
SHORT_NAMES = {"RU": "Russia", "XK": "Kosovo", "PS": "Palestine", "SY": "Syria", "TR": "Turkey"}

_BRACKETED = re.compile(r"\s*\([^)]*\)\s*$")
# "Military Forces of Russia (2022-)", "Police Forces of Ukraine (2019-) Prison Guards",
# "Government of Ukraine", "Government of Russia (Soviet Union)", "Armed Forces of Sudan".
_STATE_ACTOR = re.compile(
    r"^(?:military|police|armed|naval|air|security|government)(?: forces)? of "
    r"(?P<country>[^()]+?)\s*(?:\(|$)",
    re.IGNORECASE,
)


def _folded(text: str) -> str:
    """Lower case, without accents or repeated spaces: how names are compared."""
    text = text.replace("\u2019", "'")  # a typographic apostrophe (right single quote)
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(plain.lower().split())


@cache
def _index() -> dict[str, str]:
    """Every name and code a country goes by (folded) → its alpha-2 code."""
    found: dict[str, str] = {}
    for country in pycountry.countries:
        for attribute in ("alpha_2", "alpha_3", "numeric", "name", "official_name", "common_name"):
            value = getattr(country, attribute, None)
            if value:
                found.setdefault(_folded(value), country.alpha_2)
    for alias, code in ALIASES.items():
        found.setdefault(alias, code)
    return found


def code_of(text: str | None) -> str | None:
    """The ISO 3166-1 alpha-2 code a code, a number or a name stands for; None if none does."""
    if not text or not text.strip():
        return None
    index = _index()
    folded = _folded(text)
    if folded.startswith("the "):  # "Military Forces of the Central African Republic"
        folded = folded[4:]
    if folded in index:
        return index[folded]
    if folded.isdigit():  # ACLED's iso column drops leading zeros: 4 is Afghanistan's 004
        return index.get(folded.zfill(3))
    # UCDP GED adds a former name in brackets: "Russia (Soviet Union)", "DR Congo (Zaire)".
    bare = _BRACKETED.sub("", folded)
    return index.get(bare) if bare != folded else None


def is_code(text: str) -> bool:
    """Whether the text is a code (UA, ukr, 804) rather than a name: a code has no name to
    keep for display."""
    bare = text.strip()
    return (bare.isalpha() and len(bare) in (2, 3)) or bare.isdigit()


def name_of(code: str) -> str:
    """The name to show for a code: a short common name where ISO's is long-winded."""
    if not code:
        return ""
    if code in SHORT_NAMES:
        return SHORT_NAMES[code]
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    return str(getattr(country, "common_name", None) or country.name)


def side_of_actor(name: str | None) -> str | None:
    """The country an actor's name says it is the state forces or government of, as a code:
    "Military Forces of Russia (2022-)" → RU; None for any other actor."""
    match = _STATE_ACTOR.match((name or "").strip())
    return code_of(match["country"]) if match else None


def key_of(location: Mapping[str, Any] | None) -> str | None:
    """What a place is filtered and grouped by: its country's code, or, for a country that no
    code stands for, the name it was given."""
    place = location or {}
    return place.get("country") or place.get("country_name") or None


def wanted(text: str) -> str:
    """A filter's country, a code or a name, as :func:`key_of` keys places."""
    return code_of(text) or text


# How far (degrees) a point may lie outside its country's box before it is flagged: the boxes
# come from 1:110m shapes, coarse at coasts and borders.
MARGIN = 1.0


@cache
def _boxes() -> dict[str, list[float]]:
    """Each country's bounding box (min lon, min lat, max lon, max lat), by alpha-2 code, as
    scripts/country_boxes.py derived them from Natural Earth's shapes."""
    boxes: dict[str, list[float]] = json.loads(
        (Path(__file__).with_name("country_boxes.json")).read_text()
    )
    return boxes


def outside(code: str | None, lat: float, lon: float) -> bool:
    """Whether a point lies clearly outside the country (False when the country has no box:
    Kosovo, the smallest islands)."""
    box = _boxes().get(code or "")
    if box is None:
        return False
    west, south, east, north = box
    return not (west - MARGIN <= lon <= east + MARGIN and south - MARGIN <= lat <= north + MARGIN)

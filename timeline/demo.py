"""Demo data: the events of early January 2023 as one news report told them, in our own words.

Every incident and statement of ``shared/seed/article.txt`` is here, with its source, side,
stance, figures and ``responds_to`` links. Ids are derived from names (uuid5), so loading twice
changes nothing. Times the report gives only loosely carry a coarse ``precision``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid5

from timeline.application import TimelineApp

NAMESPACE = UUID("5b0c7a3e-3f4e-4a57-9a59-0d1e6c1f2a10")
KYIV = timezone(timedelta(hours=2), "EET")
MOSCOW = timezone(timedelta(hours=3), "MSK")
LONDON = UTC


def demo_id(name: str) -> UUID:
    """The stable id of a demo incident or statement."""
    return uuid5(NAMESPACE, name)


def _source(name: str, side: str, kind: str) -> dict[str, str]:
    return {"name": name, "side": side, "type": kind}


RU_MOD = _source("Russian Ministry of Defence", "RU", "military")
KREMLIN = _source("Kremlin", "RU", "government")
UA_ARMY = _source("Serhiy Cherevaty, Ukrainian army spokesman", "UA", "military")
UA_INTEL = _source("Ukrainian military intelligence", "UA", "intelligence")
UA_STRATCOM = _source("Ukrainian armed forces", "UA", "military")
MAYOR = _source("Mayor of Kramatorsk", "UA", "official")
REPORTERS = _source("Journalists in Kramatorsk", "independent", "journalist")
SKY = _source("Alex Rossi, Sky News", "independent", "journalist")
UK_MOD = _source("UK Ministry of Defence", "GB", "government")
OUTLET = _source("HuffPost UK", "independent", "media")


def _statement(
    key: str,
    source: dict[str, str],
    stance: str,
    stated_at: datetime,
    text: str,
    figures: list[dict[str, Any]] | None = None,
    responds_to: str | None = None,
) -> dict[str, Any]:
    return {
        "id": str(demo_id(key)),
        "source": source,
        "stance": stance,
        "stated_at": stated_at,
        "text": text,
        "figures": figures or [],
        "responds_to": str(demo_id(responds_to)) if responds_to else None,
    }


def _figure(
    metric: str, value: int, qualifier: str = "exact", subject: str | None = None
) -> dict[str, Any]:
    return {"metric": metric, "value": value, "qualifier": qualifier, "subject": subject}


def demo_items() -> list[dict[str, Any]]:
    """The demo incidents with their statements, as batch items."""
    return [
        {
            "id": str(demo_id("makiivka")),
            "title": "New Year's strike on a Russian base in Makiivka",
            "kind": "strike",
            "occurred": {"start": datetime(2023, 1, 1, 0, 1, tzinfo=MOSCOW), "precision": "hour"},
            "location": {
                "name": "Makiivka",
                "admin1": "Donetsk",
                "country": "UA",
                "lat": 48.047,
                "lon": 37.926,
            },
            "actors": ["UA", "RU"],
            "tags": ["new-year", "casualties"],
            "statements": [
                _statement(
                    "makiivka/ua-losses",
                    UA_STRATCOM,
                    "claim",
                    datetime(2023, 1, 2, 10, 0, tzinfo=KYIV),
                    "Says the strike killed or wounded as many as 400 Russian soldiers.",
                    [_figure("killed_or_wounded", 400, "up_to", "RU")],
                ),
                _statement(
                    "makiivka/ru-admits",
                    RU_MOD,
                    "claim",
                    datetime(2023, 1, 3, 12, 0, tzinfo=MOSCOW),
                    "Acknowledges that 89 of its own soldiers died when the base was hit.",
                    [_figure("killed", 89, "exact", "RU")],
                ),
            ],
        },
        {
            "id": str(demo_id("christmas-ceasefire")),
            "title": "36-hour Orthodox Christmas ceasefire offered by Moscow",
            "kind": "ceasefire",
            "occurred": {
                "start": datetime(2023, 1, 6, 12, 0, tzinfo=MOSCOW),
                "end": datetime(2023, 1, 8, 0, 0, tzinfo=MOSCOW),
                "precision": "hour",
            },
            "location": {"name": "Ukraine", "country": "UA"},
            "actors": ["RU", "UA"],
            "tags": ["orthodox-christmas"],
            "statements": [
                _statement(
                    "ceasefire/offer",
                    KREMLIN,
                    "announcement",
                    datetime(2023, 1, 5, 15, 0, tzinfo=MOSCOW),
                    "President Putin proposes a 36-hour truce so that Russians can mark "
                    "Orthodox Christmas.",
                ),
            ],
        },
        {
            "id": str(demo_id("shelling-after-ceasefire")),
            "title": "Shelling resumes soon after the Christmas truce begins",
            "kind": "shelling",
            "occurred": {"start": datetime(2023, 1, 6, 14, 0, tzinfo=KYIV), "precision": "day"},
            "location": {"name": "Eastern Ukraine front line", "country": "UA"},
            "actors": ["RU"],
            "tags": ["orthodox-christmas"],
            "statements": [
                _statement(
                    "shelling/report",
                    OUTLET,
                    "claim",
                    datetime(2023, 1, 9, 9, 0, tzinfo=LONDON),
                    "Reports that shelling started again very soon after the truce was declared.",
                ),
            ],
        },
        {
            "id": str(demo_id("kramatorsk")),
            "title": "Missile strike on Kramatorsk",
            "kind": "strike",
            "occurred": {"start": datetime(2023, 1, 8, 1, 0, tzinfo=KYIV), "precision": "hour"},
            "location": {
                "name": "Kramatorsk",
                "admin1": "Donetsk",
                "country": "UA",
                "lat": 48.723,
                "lon": 37.556,
            },
            "actors": ["RU", "UA"],
            "tags": ["retaliation", "casualties"],
            "statements": [
                _statement(
                    "kramatorsk/mod-claim",
                    RU_MOD,
                    "claim",
                    datetime(2023, 1, 8, 12, 0, tzinfo=MOSCOW),
                    "Calls the attack a retaliatory mass missile strike on buildings "
                    "temporarily housing some 1,300 Ukrainian troops, and says more than "
                    "600 of them were killed.",
                    [
                        _figure("killed", 600, "at_least", "UA"),
                        _figure("troops", 1300, "about", "UA"),
                    ],
                ),
                _statement(
                    "kramatorsk/army-denial",
                    UA_ARMY,
                    "denial",
                    datetime(2023, 1, 8, 15, 0, tzinfo=KYIV),
                    "Tells the BBC the claim is more Russian propaganda: seven missiles "
                    "hit the area but did the army no harm.",
                    [_figure("missiles", 7, "exact")],
                    responds_to="kramatorsk/mod-claim",
                ),
                _statement(
                    "kramatorsk/mayor-report",
                    MAYOR,
                    "claim",
                    datetime(2023, 1, 8, 13, 0, tzinfo=KYIV),
                    "Shares pictures of the damage: two school sites, eight apartment "
                    "buildings and some garages hit, and no casualties reported.",
                    [
                        _figure("buildings_damaged", 10, "at_least"),
                        _figure("killed", 0, "exact", "UA"),
                    ],
                ),
                _statement(
                    "kramatorsk/reporters",
                    REPORTERS,
                    "assessment",
                    datetime(2023, 1, 8, 16, 0, tzinfo=KYIV),
                    "Reporters on the scene see no sign of hundreds of casualties.",
                    responds_to="kramatorsk/mod-claim",
                ),
                _statement(
                    "kramatorsk/sky-analysis",
                    SKY,
                    "assessment",
                    datetime(2023, 1, 9, 8, 0, tzinfo=LONDON),
                    "Suggests Moscow badly wants a win after its Makiivka losses, and "
                    "that so many soldiers would not be quartered within artillery range.",
                    responds_to="kramatorsk/mod-claim",
                ),
            ],
        },
        {
            "id": str(demo_id("uk-mod-air-force")),
            "title": "UK assessment of Russia's cautious use of its newest combat jets",
            "kind": "assessment",
            "occurred": {"start": datetime(2023, 1, 9, 8, 0, tzinfo=LONDON), "precision": "day"},
            "actors": ["RU"],
            "tags": ["air-force", "intelligence-update"],
            "statements": [
                _statement(
                    "uk-mod/update",
                    UK_MOD,
                    "assessment",
                    datetime(2023, 1, 9, 8, 0, tzinfo=LONDON),
                    "Judges that Russia keeps its fifth-generation fighter over its own "
                    "territory to avoid reputational harm, lost export prospects and the "
                    "capture of sensitive technology, a sign of a risk-averse air war.",
                ),
            ],
        },
        {
            "id": str(demo_id("second-mobilisation")),
            "title": "Reported plan for a second Russian mobilisation wave",
            "kind": "mobilisation",
            "occurred": {"start": datetime(2023, 1, 15, tzinfo=MOSCOW), "precision": "week"},
            "location": {"name": "Russia", "country": "RU"},
            "actors": ["RU"],
            "tags": ["mobilisation"],
            "statements": [
                _statement(
                    "mobilisation/ua-intel",
                    UA_INTEL,
                    "claim",
                    datetime(2023, 1, 7, 12, 0, tzinfo=KYIV),
                    "Says Russia intends to call up as many as 500,000 more conscripts in "
                    "mid-January, beyond the 300,000 mobilised in the autumn.",
                    [_figure("conscripts", 500_000, "up_to", "RU")],
                ),
                _statement(
                    "mobilisation/ru-denial",
                    KREMLIN,
                    "denial",
                    datetime(2023, 1, 9, 12, 0, tzinfo=MOSCOW),
                    "Denies any plan for a second wave of mobilisation.",
                    responds_to="mobilisation/ua-intel",
                ),
            ],
        },
    ]


def load_demo(app: TimelineApp) -> int:
    """Write the demo incidents that are not there yet; returns how many were written."""
    missing = [item for item in demo_items() if not app.exists(UUID(item["id"]))]
    if missing:
        app.apply_batch(missing)
    return len(missing)

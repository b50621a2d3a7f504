"""Value rules of the model: vocabularies, and the normalised plain-data shape of each value.

Events carry only JSON-ready data (strings, numbers, lists, dicts), so stored events decode fast
and never need a custom transcoding. Timestamps are kept as ISO-8601 strings in UTC with
microseconds, which sort correctly as text.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from timeline.domain import countries
from timeline.domain.errors import InvalidValue
from timeline.domain.quality import Findings, replaced

# Who made a change: the API key's id and name (None: the service itself). Events written before
# keys were recorded lack it; the parameter's default lets them replay unchanged.
By = dict[str, str] | None

# Kinds of incident. ACLED's six event types and UCDP's three types of violence map onto them
# (the table is in the README); a dataset's own type and sub-type are kept as it gave them.
KINDS = (
    "strike",
    "shelling",
    "explosion",
    "battle",
    "violence_against_civilians",
    "ceasefire",
    "violation",
    "protest",
    "riot",
    "mobilisation",
    "deployment",
    "assessment",
    "diplomacy",
    "other",
)
STANCES = (
    "claim",
    "denial",
    "confirmation",
    "correction",
    "retraction",
    "assessment",
    "announcement",
)
SOURCE_TYPES = (
    "government",
    "military",
    "official",
    "media",
    "journalist",
    "intelligence",
    "ngo",
    "analyst",
    "other",
)
QUALIFIERS = ("exact", "about", "at_least", "at_most", "up_to")
PRECISIONS = ("minute", "hour", "day", "week", "month", "year")
COMMON_METRICS = (
    "killed",
    "wounded",
    "killed_or_wounded",
    "troops",
    "missiles",
    "conscripts",
    "buildings_damaged",
)
AMENDABLE_FIELDS = (
    "title",
    "kind",
    "occurred",
    "location",
    "actors",
    "tags",
    "properties",
    "external_ids",
)
# What a version stores: those, and the quality flags the domain set when it was written.
STORED_FIELDS = (*AMENDABLE_FIELDS, "flags")
# How precisely a place is known, finest first. ACLED's geo_precision and UCDP's where_prec map
# onto it (the table is in the README). Places stored before this list keep their text.
LOCATION_PRECISIONS = ("exact", "near", "admin3", "admin2", "admin1", "country", "region")
# What kind of actor (ACLED's actor types, its inter codes 1-8 in order).
ACTOR_TYPES = (
    "state_forces",
    "rebel_group",
    "political_militia",
    "identity_militia",
    "rioters",
    "protesters",
    "civilians",
    "external_other",
)
# Why an incident left the timeline: its source removed it, it repeats another (named), or it
# was recorded in error. Each can be undone by a restoration.
RETIREMENT_REASONS = ("removed_by_source", "duplicate", "recorded_in_error")
# How far a version's stated time may run ahead of the service's clock (a client's clock drift).
STATED_SKEW = timedelta(minutes=5)
ACTOR_KEYS = ("name", "side", "type", "code")
MAX_ACTORS = 100
LOCATION_KEYS = (
    "name", "admin1", "admin2", "admin3", "country", "country_name", "precision", "lat", "lon",
)  # fmt: skip

# Lengths and patterns: the API's schemas refer to these, so each rule is written once.
MAX_TITLE = 500
MAX_NAME = 200  # a source's, place's, region's or outlet's name
MAX_SOURCE_NAME = MAX_NAME
MAX_TEXT = 10_000
MAX_REASON = 2_000
MAX_URL = 2_000
MAX_TAG = 64
MAX_SIDE = 32
MAX_REFERENCE = 4_000  # a citation that is not a URL (e.g. UCDP's source_article)
MAX_PROPERTIES_BYTES = 16_384  # a dataset's other columns, as compact JSON
MAX_PROPERTY_NAME = 100
# A dataset's own ids: {namespace: id}, e.g. {"ucdp-ged": "256002", "acled": "UKR57975"}.
NAMESPACE_PATTERN = r"^[a-z][a-z0-9_.-]{0,31}$"
MAX_EXTERNAL_ID = 200
MAX_EXTERNAL_IDS = 16
METRIC_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
SIDE_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]{0,31}$"
TAG_PATTERN = r"^[\w][\w .:/-]{0,63}$"

_METRIC = re.compile(METRIC_PATTERN)
SIDE_ERROR = "Must be a side code such as RU, UA, GB or independent."
METRIC_ERROR = "Must be a snake_case word, e.g. " + ", ".join(COMMON_METRICS) + "."
_SIDE = re.compile(SIDE_PATTERN)
_TAG = re.compile(TAG_PATTERN)
TAG_ERROR = "Tags are short words (letters, digits, _ . : / -)."
UNNAMED_PLACE = "Name the place (only a source recorded as published may leave it unnamed)."
# A date, a month or a year alone: 2009-02-20, 2009-02, 2009.
_NAMESPACE = re.compile(NAMESPACE_PATTERN)
_PERIOD = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")

Data = dict[str, Any]


def timestamp(value: object, field: str) -> str:
    """An aware datetime as canonical UTC text; naive or non-datetime values are refused."""
    if isinstance(value, str) and _PERIOD.match(value.strip()):
        raise InvalidValue(
            "A date alone is not a moment: give a time with a UTC offset, "
            "e.g. 2009-02-20T00:00:00Z.",
            field,
        )
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidValue("Not a valid ISO-8601 timestamp.", field) from None
    if not isinstance(value, datetime):
        raise InvalidValue("Not a valid timestamp.", field)
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValue("Timestamp must include a UTC offset.", field)
    try:
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise InvalidValue("Must be between years 1 and 9999 in UTC.", field) from None


def stated_at(value: object, field: str = "stated_at") -> str:
    """When a source published a version: a moment, never later than now (plus clock skew).

    A version cannot have been published after the service recorded it; a small allowance
    keeps a client whose clock runs a little fast from being refused.
    """
    moment = timestamp(value, field)
    if datetime.fromisoformat(moment) > datetime.now(UTC) + STATED_SKEW:
        minutes = int(STATED_SKEW.total_seconds() // 60)
        raise InvalidValue(
            f"Cannot be later than now (the time it is recorded, allowing {minutes} minutes "
            "of clock skew).",
            field,
        )
    return moment


def retirement(reason: object, duplicate_of: object = None, note: object = None) -> Data:
    """Why an incident is retired: a reason from the closed list, the incident it duplicates
    (only, and always, for ``duplicate``), and an optional note."""
    why = choice(reason, RETIREMENT_REASONS, "reason")
    original = None
    if why == "duplicate":
        if duplicate_of is None:
            raise InvalidValue("Name the incident this one duplicates.", "duplicate_of")
        original = str(duplicate_of)
    elif duplicate_of is not None:
        raise InvalidValue("Only a duplicate names the incident it repeats.", "duplicate_of")
    return {
        "reason": why,
        "duplicate_of": original,
        "note": text(note, "note", max_length=MAX_REASON) if note is not None else None,
    }


def text(value: object, field: str, *, max_length: int = MAX_TEXT, required: bool = True) -> str:
    """A stripped, non-empty string of bounded length."""
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidValue("Must be a non-empty string.", field)
    if len(value) > max_length:
        raise InvalidValue(f"Must be at most {max_length} characters.", field)
    return value.strip()


def choice(value: object, allowed: Iterable[str], field: str) -> str:
    """One of a closed vocabulary; the error lists what is allowed."""
    options = tuple(allowed)
    if value not in options:
        raise InvalidValue(f"Must be one of: {', '.join(options)}.", field)
    return str(value)


def side(value: object, field: str) -> str:
    """An affiliation code such as RU, UA, GB or independent."""
    if not isinstance(value, str) or not _SIDE.match(value):
        raise InvalidValue(SIDE_ERROR, field)
    return value


def actor(value: object, field: str) -> Data:
    """Who took part: a free name, with optional side code, type and the dataset's own code.
    A bare side code (``"RU"``) stands for ``{"name": "RU", "side": "RU"}``."""
    if isinstance(value, str):
        code = side(value, field)
        return {"name": code, "side": code, "type": None, "code": None}
    if not isinstance(value, Mapping):
        raise InvalidValue("Must be a side code or an object with a name.", field)
    _only(value, ACTOR_KEYS, field)
    given = {key: value.get(key) for key in ("side", "type", "code")}
    return {
        "name": text(value.get("name"), f"{field}.name", max_length=MAX_NAME),
        "side": side(given["side"], f"{field}.side") if given["side"] is not None else None,
        "type": (
            choice(given["type"], ACTOR_TYPES, f"{field}.type")
            if given["type"] is not None
            else None
        ),
        "code": text(given["code"], f"{field}.code", max_length=MAX_TAG)
        if given["code"] is not None
        else None,
    }


def actors(values: object, field: str = "actors") -> list[Data]:
    """The actors of an incident, distinct, in the order given."""
    if values is None:
        return []
    if not isinstance(values, list | tuple):
        raise InvalidValue("Must be a list.", field)
    if len(values) > MAX_ACTORS:
        raise InvalidValue(f"At most {MAX_ACTORS} actors.", field)
    result: list[Data] = []
    for index, value in enumerate(values):
        checked = actor(value, f"{field}.{index}")
        if checked not in result:
            result.append(checked)
    return result


def sides_of(actors: list[Any]) -> list[str]:
    """The side codes an incident's actors stand for, distinct, in order."""
    found: list[str] = []
    for one in actors:
        code = one if isinstance(one, str) else one.get("side")
        if code and code not in found:
            found.append(code)
    return found


def _number(value: object, field: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValue("Must be a number.", field)
    if value != value or value in (float("inf"), float("-inf")):
        raise InvalidValue("Must be a finite number.", field)
    return value


def _only(data: Mapping[str, Any], allowed: Iterable[str], field: str) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise InvalidValue(f"Unknown field(s): {', '.join(unknown)}.", f"{field}.{unknown[0]}")


def moment(value: object, field: str, *, end: bool = False) -> tuple[str, str | None]:
    """A time with an offset, or a date, month or year alone (UTC): canonical UTC text, and
    the precision a date, month or year implies (None for a full time).

    As a start, a period means its first moment; as an ``end``, the moment it is over (the
    next day, month or year begins), so a one-day event dated 2009-02-20 to 2009-02-20 spans
    that whole day.
    """
    found = _PERIOD.match(value.strip()) if isinstance(value, str) else None
    if found is None:
        return timestamp(value, field), None
    year, month, day = (int(part) if part else None for part in found.groups())
    try:
        first = datetime(year or 0, month or 1, day or 1, tzinfo=UTC)
        if end and day is not None:
            first += timedelta(days=1)
        elif end and month is not None:
            first = first.replace(year=first.year + (month == 12), month=month % 12 + 1)
        elif end:
            first = first.replace(year=first.year + 1)
    except (ValueError, OverflowError):
        raise InvalidValue("Not a valid date, month (2009-02) or year (2009).", field) from None
    implied = "day" if day is not None else "month" if month is not None else "year"
    return first.isoformat(timespec="microseconds"), implied


def occurred(data: object, field: str = "occurred", findings: Findings | None = None) -> Data:
    """When it happened: start, optional end (not before start), and how precise that is.

    A date, month or year alone is a valid start or end; without an explicit precision, the
    start's (day, month, year) is used. An end before the start is refused, or flagged for a
    source recorded as published; a start after now (or after the release) is flagged.
    """
    findings = findings or Findings()
    if not isinstance(data, Mapping):
        raise InvalidValue("Must be an object with start, end and precision.", field)
    _only(data, ("start", "end", "precision"), field)
    start, implied = moment(data.get("start"), f"{field}.start")
    end = None
    if data.get("end") is not None:
        end, period = moment(data["end"], f"{field}.end", end=True)
        # A period as the end is over when the next begins: one that is over by the start
        # (2022-03-04 for a start on 2022-03-05) lies wholly before it.
        if end < start or (period is not None and end == start):
            findings.breach("end_before_start", f"{field}.end", "End must not be before start.")
    given = data.get("precision") or implied or "minute"
    precision = choice(given, PRECISIONS, f"{field}.precision")
    findings.later_than_now(start, "occurred_in_future", f"{field}.start", "The start")
    return {"start": start, "end": end, "precision": precision}


def location(
    data: object, field: str = "location", findings: Findings | None = None
) -> Data | None:
    """Where: a place name, optional regions (admin1 to admin3) and country, how precisely the
    place is known, optional coordinates (both or neither). A source recorded as published may
    give no name: one is made from what it gives, and flagged."""
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise InvalidValue("Must be an object with at least a name.", field)
    _only(data, LOCATION_KEYS, field)
    findings = findings or Findings()
    name = data.get("name")
    if (name is None or (isinstance(name, str) and not name.strip())) and findings.as_published:
        name = _name_of_place(data)
        findings.breach("unnamed_place", f"{field}.name", f"No place name: named {name!r}.")
    if name is None:
        raise InvalidValue(UNNAMED_PLACE, f"{field}.name")
    result: Data = {"name": text(name, f"{field}.name", max_length=MAX_NAME)}
    for key in ("admin1", "admin2", "admin3"):
        value = data.get(key)
        result[key] = (
            text(value, f"{field}.{key}", max_length=MAX_NAME) if value is not None else None
        )
    result["country"], result["country_name"] = country(
        data.get("country"), data.get("country_name"), f"{field}.country"
    )
    precision = data.get("precision")
    result["precision"] = (
        choice(precision, LOCATION_PRECISIONS, f"{field}.precision")
        if precision is not None
        else None
    )
    lat, lon = data.get("lat"), data.get("lon")
    if (lat is None) != (lon is None):
        raise InvalidValue(
            "Give both lat and lon, or neither.", f"{field}.{'lat' if lat is None else 'lon'}"
        )
    if lat is not None:
        lat_f, lon_f = _number(lat, f"{field}.lat"), _number(lon, f"{field}.lon")
        if not -90 <= lat_f <= 90:
            raise InvalidValue("Latitude must be between -90 and 90.", f"{field}.lat")
        if not -180 <= lon_f <= 180:
            raise InvalidValue("Longitude must be between -180 and 180.", f"{field}.lon")
        lat, lon = lat_f, lon_f
    result["lat"], result["lon"] = lat, lon
    if lat == 0 and lon == 0:
        findings.note("null_island", f"{field}.lat", "The coordinates are (0, 0).")
    elif lat is not None and lon is not None and countries.outside(result["country"], lat, lon):
        findings.note("outside_country", f"{field}.lat",
                      f"({lat}, {lon}) lies outside {result['country']}.")  # fmt: skip
    return result


def _name_of_place(data: Mapping[str, Any]) -> str:
    """A name for a place its source left unnamed: its finest admin level, else its country,
    else its coordinates."""
    for key in ("admin3", "admin2", "admin1", "country_name", "country"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:MAX_NAME]
    lat, lon = data.get("lat"), data.get("lon")
    if isinstance(lat, int | float) and isinstance(lon, int | float):
        return f"{lat:.4f}, {lon:.4f}"
    return "unnamed place"


def country(value: object, name: object, field: str) -> tuple[str | None, str | None]:
    """A country as its ISO 3166-1 alpha-2 code, from a code or a name (``UA``, ``UKR``,
    ``Ukraine``), and the name to show: the one given, else the code's. A country given only
    by a name that no code stands for (``country_name`` without ``country``) is kept as a name.
    """
    shown = text(name, f"{field}_name", max_length=MAX_NAME) if name is not None else None
    if value is None:
        return None, shown
    given = text(value, field, max_length=MAX_NAME)
    code = countries.code_of(given)
    if code is None:
        raise InvalidValue(
            f"Unknown country {given[:40]!r}: give an ISO 3166-1 code such as UA, or its "
            "English name (a name no code stands for goes in country_name alone).",
            field,
        )
    return code, shown or (countries.name_of(code) if countries.is_code(given) else given)


def properties(data: object, field: str = "properties") -> Data:
    """A dataset's other columns: a flat object of names to strings, numbers, booleans or null,
    at most 16 KB as JSON, so nothing of a row is dropped and nothing unbounded is kept."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise InvalidValue("Must be an object of names to plain values.", field)
    result: Data = {}
    for name, value in data.items():
        if not isinstance(name, str) or not 0 < len(name) <= MAX_PROPERTY_NAME:
            raise InvalidValue(
                f"Property names are 1 to {MAX_PROPERTY_NAME} characters.", f"{field}.{name}"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidValue("Must be a finite number.", f"{field}.{name}")
        if value is not None and not isinstance(value, str | int | float | bool):
            raise InvalidValue(
                "Must be a string, number, boolean or null (no nesting).", f"{field}.{name}"
            )
        result[name] = value
    size = len(json.dumps(result, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_PROPERTIES_BYTES:
        raise InvalidValue(
            f"At most {MAX_PROPERTIES_BYTES} bytes as JSON (these are {size}).", field
        )
    return result


def external_ids(data: object, field: str = "external_ids") -> dict[str, str]:
    """The incident's ids in datasets: one id per namespace, a bounded number of them."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise InvalidValue('Must be an object of namespaces to ids, e.g. {"acled": "UKR1"}.', field)
    if len(data) > MAX_EXTERNAL_IDS:
        raise InvalidValue(f"At most {MAX_EXTERNAL_IDS} external ids.", field)
    result: dict[str, str] = {}
    for namespace, value in data.items():
        if not isinstance(namespace, str) or not _NAMESPACE.match(namespace):
            raise InvalidValue(
                "Namespaces are short lowercase words, e.g. acled, ucdp-ged.",
                f"{field}.{namespace}",
            )
        result[namespace] = text(value, f"{field}.{namespace}", max_length=MAX_EXTERNAL_ID)
    return result


def string_list(values: object, field: str, item: Any = None) -> list[str]:
    """A list of distinct codes or tags, order kept."""
    if values is None:
        return []
    if not isinstance(values, list | tuple):
        raise InvalidValue("Must be a list.", field)
    result: list[str] = []
    for index, value in enumerate(values):
        name = f"{field}.{index}"
        checked = item(value, name) if item else text(value, name, max_length=MAX_TAG)
        if item is None and not _TAG.match(checked):
            raise InvalidValue(TAG_ERROR, name)
        if checked not in result:
            result.append(checked)
    return result


def source(data: object, field: str = "source") -> Data:
    """Who said it: a name, the side it speaks for, and what kind of source it is."""
    if not isinstance(data, Mapping):
        raise InvalidValue("Must be an object with name, side and type.", field)
    _only(data, ("name", "side", "type"), field)
    return {
        "name": text(data.get("name"), f"{field}.name", max_length=MAX_SOURCE_NAME),
        "side": side(data.get("side"), f"{field}.side"),
        "type": choice(data.get("type"), SOURCE_TYPES, f"{field}.type"),
    }


def figure(data: object, field: str, findings: Findings | None = None) -> Data:
    """A number a source gave: value with optional range, qualifier and whom it counts. A
    value outside its own range, or a low above the high, is refused — or flagged, for a
    source recorded as published."""
    findings = findings or Findings()
    if not isinstance(data, Mapping):
        raise InvalidValue("Must be an object with metric and value.", field)
    _only(data, ("metric", "value", "low", "high", "qualifier", "subject"), field)
    metric = data.get("metric")
    if not isinstance(metric, str) or not _METRIC.match(metric):
        raise InvalidValue(METRIC_ERROR, f"{field}.metric")
    value = _number(data.get("value"), f"{field}.value")
    low = _number(data["low"], f"{field}.low") if data.get("low") is not None else None
    high = _number(data["high"], f"{field}.high") if data.get("high") is not None else None
    if low is not None and high is not None and low > high:
        findings.breach("low_above_high", f"{field}.low", "low must not be greater than high.")
    elif low is not None and low > value:
        findings.breach("best_outside_range", f"{field}.low",
                        "low must not be greater than value.")  # fmt: skip
    elif high is not None and high < value:
        findings.breach("best_outside_range", f"{field}.high",
                        "high must not be less than value.")  # fmt: skip
    subject = data.get("subject")
    return {
        "metric": metric,
        "value": value,
        "low": low,
        "high": high,
        "qualifier": choice(data.get("qualifier") or "exact", QUALIFIERS, f"{field}.qualifier"),
        "subject": (
            text(subject, f"{field}.subject", max_length=MAX_NAME) if subject is not None else None
        ),
    }


def totals(figures: list[Data]) -> list[Data]:
    """A statement's figures that count toward totals: per metric, the one(s) without a
    subject when it gives any (UCDP's best beside its parties' parts), else all of them (a
    claim of "600 Ukrainian soldiers killed" is that statement's total)."""
    whole = {f["metric"] for f in figures if f.get("subject") is None}
    return [f for f in figures if f.get("subject") is None or f["metric"] not in whole]


def citation(data: object, field: str) -> Data:
    """Where the statement was published: an http(s) URL or, for sources that are not URLs
    (a newspaper's print edition, UCDP's source_article), a free-text reference; with the
    outlet and when, if known."""
    if not isinstance(data, Mapping):
        raise InvalidValue("Must be an object with a url or a reference.", field)
    _only(data, ("url", "reference", "outlet", "published_at"), field)
    url, reference = data.get("url"), data.get("reference")
    if (url is None) == (reference is None):
        raise InvalidValue("Give a url or a reference (one of them).", f"{field}.url")
    if url is not None:
        url = text(url, f"{field}.url", max_length=MAX_URL)
        if not re.match(r"^https?://[^\s/]+", url):
            raise InvalidValue("Must be an http(s) URL.", f"{field}.url")
    if reference is not None:
        reference = text(reference, f"{field}.reference", max_length=MAX_REFERENCE)
    outlet = data.get("outlet")
    published = data.get("published_at")
    return {
        "url": url,
        "reference": reference,
        "outlet": (
            text(outlet, f"{field}.outlet", max_length=MAX_NAME) if outlet is not None else None
        ),
        "published_at": timestamp(published, f"{field}.published_at") if published else None,
    }


def _items(values: object, field: str, each: Any) -> list[Data]:
    if values is None:
        return []
    if not isinstance(values, list | tuple):
        raise InvalidValue("Must be a list.", field)
    return [each(value, f"{field}.{index}") for index, value in enumerate(values)]


MAPPINGS = ("properties", "external_ids")


def incident_fields(
    data: Mapping[str, Any], *, partial: bool = False, findings: Findings | None = None
) -> Data:
    """The validated, normalised fields of an incident (all of them, or only those given),
    with ``flags``: what the checks of those fields flagged (see :mod:`quality`), and the
    flags a writer recording a source as published found itself."""
    _only(data, (*AMENDABLE_FIELDS, "flags"), "incident")
    findings = findings or Findings()
    findings.given(data.get("flags"))
    checks: dict[str, Any] = {
        "title": lambda v: text(v, "title", max_length=MAX_TITLE),
        "kind": lambda v: choice(v, KINDS, "kind"),
        "occurred": lambda v: occurred(v, findings=findings),
        "location": lambda v: location(v, findings=findings),
        "actors": actors,
        "tags": lambda v: string_list(v, "tags"),
        "properties": properties,
        "external_ids": external_ids,
    }
    result: Data = {}
    for name, check in checks.items():
        if name in data:
            result[name] = check(data[name])
        elif not partial:
            if name in ("title", "kind", "occurred"):
                raise InvalidValue("Required to report a new incident.", name)
            empty: Any = None if name == "location" else {} if name in MAPPINGS else []
            result[name] = empty
    result["flags"] = findings.flags
    return result


def with_flags(old: list[dict[str, str]], checked: Data) -> Data:
    """Checked fields (from :func:`incident_fields`) whose ``flags`` replace only the old
    flags of the fields they give: the flags a version has after that write."""
    return {**checked, "flags": replaced(old, checked["flags"], checked)}


class CheckedStatement(dict[str, Any]):
    """A statement's fields as :func:`statement_fields` returned them: checked once, so a bulk
    writer that checks a chunk's statements before changing anything need not check them
    again when it records them."""


def statement_fields(data: Mapping[str, Any], findings: Findings | None = None) -> Data:
    """The validated, normalised fields of a statement (its incident checks responds_to),
    with its ``flags``. A statement dated after now is refused, or flagged for a source
    recorded as published; one dated after its release is flagged. Fields already checked
    (a :class:`CheckedStatement`) are returned as they are."""
    if isinstance(data, CheckedStatement):
        return data
    findings = findings or Findings()
    _only(
        data,
        ("source", "stance", "responds_to", "text", "stated_at", "figures", "citations"),
        "statement",
    )
    for required in ("source", "stance", "text", "stated_at"):
        if data.get(required) is None:
            raise InvalidValue("Missing data for required field.", required)
    responds_to = data.get("responds_to")
    said = timestamp(data["stated_at"], "stated_at")
    if datetime.fromisoformat(said) > datetime.now(UTC) + STATED_SKEW:
        findings.breach("stated_in_future", "stated_at", "Cannot be later than now.")
    elif findings.release is not None and said > findings.release:
        findings.note("stated_after_release", "stated_at",
                      "Dated after the release that lists it.")  # fmt: skip
    return CheckedStatement({
        "source": source(data["source"]),
        "stance": choice(data["stance"], STANCES, "stance"),
        "responds_to": str(responds_to) if responds_to is not None else None,
        "text": text(data["text"], "text"),
        "stated_at": said,
        "figures": _items(data.get("figures"), "figures", lambda v, f: figure(v, f, findings)),
        "citations": _items(data.get("citations"), "citations", citation),
        "flags": findings.flags,
    })  # fmt: skip

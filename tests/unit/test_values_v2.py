"""Values analysts' datasets need: dates, months and years as times; free-named subjects;
citations that are not URLs. Each rejected value names its field."""

from __future__ import annotations

import pytest

from tests.factories import a_statement, an_incident
from timeline.domain import Incident, InvalidValue
from timeline.domain.values import moment, occurred, statement_fields, timestamp, totals


@pytest.mark.parametrize(
    ("given", "start", "end", "precision"),
    [
        ("2009-02-20", "2009-02-20T00:00:00", "2009-02-21T00:00:00", "day"),
        ("2009-02", "2009-02-01T00:00:00", "2009-03-01T00:00:00", "month"),
        ("2009-12", "2009-12-01T00:00:00", "2010-01-01T00:00:00", "month"),
        ("2009", "2009-01-01T00:00:00", "2010-01-01T00:00:00", "year"),
    ],
)
def test_a_date_month_or_year_is_a_utc_period_with_its_precision(
    given: str, start: str, end: str, precision: str
) -> None:
    found = occurred({"start": given, "end": given})
    assert found == {
        "start": start + ".000000+00:00",
        "end": end + ".000000+00:00",  # as an end: the moment the period is over
        "precision": precision,
    }


def test_an_explicit_precision_wins_and_full_times_still_need_an_offset() -> None:
    assert occurred({"start": "2009-02-20", "precision": "week"})["precision"] == "week"
    assert occurred({"start": "2009-02-20T10:00:00+02:00"}) == {
        "start": "2009-02-20T08:00:00.000000+00:00",
        "end": None,
        "precision": "minute",
    }
    with pytest.raises(InvalidValue, match="UTC offset") as caught:
        occurred({"start": "2009-02-20T00:00:00"})  # GED's form: a naive time
    assert caught.value.field == "occurred.start"


@pytest.mark.parametrize("bad", ["2009-13", "2009-02-30", "0000", "9999-99", "20090220"])
def test_impossible_dates_are_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        moment(bad, "occurred.start")
    assert caught.value.field == "occurred.start"


def test_the_last_year_has_no_moment_after_it() -> None:
    assert moment("9999", "occurred.start")[0].startswith("9999-01-01")
    with pytest.raises(InvalidValue) as caught:
        moment("9999", "occurred.end", end=True)
    assert caught.value.field == "occurred.end"


def test_a_date_alone_where_a_moment_is_needed_says_why() -> None:
    with pytest.raises(InvalidValue, match="A date alone is not a moment") as caught:
        timestamp("2009-02-20", "stated_at")
    assert caught.value.field == "stated_at"


def test_figure_subjects_are_free_names() -> None:
    subject = "Government of Central African Republic"
    figure = {"metric": "killed", "value": 12, "subject": subject}
    assert statement_fields(a_statement(figures=[figure]))["figures"][0]["subject"] == subject
    with pytest.raises(InvalidValue) as caught:
        statement_fields(a_statement(figures=[{**figure, "subject": "x" * 201}]))
    assert caught.value.field == "figures.0.subject"


def test_a_citation_is_a_url_or_a_free_text_reference() -> None:
    article = "Reuters 2009-02-21; AFP 2009-02-22 (" + "detail, " * 300 + ")"
    cited = statement_fields(a_statement(citations=[{"reference": article, "outlet": "UCDP"}]))
    assert cited["citations"] == [
        {"url": None, "reference": article, "outlet": "UCDP", "published_at": None}
    ]
    for bad in ({}, {"url": "https://example.org/a", "reference": "both"}):
        with pytest.raises(InvalidValue) as caught:
            statement_fields(a_statement(citations=[bad]))
        assert caught.value.field == "citations.0.url"
    with pytest.raises(InvalidValue) as caught:
        statement_fields(a_statement(citations=[{"reference": "x" * 4001}]))
    assert caught.value.field == "citations.0.reference"


def test_new_kinds_cover_the_datasets_types() -> None:
    for kind in ("explosion", "violence_against_civilians", "protest", "riot"):
        assert Incident.report(an_incident(kind=kind)).kind == kind


@pytest.mark.parametrize("edge", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_times_beyond_the_computable_range_are_refused_not_crashed_on(edge: str) -> None:
    with pytest.raises(InvalidValue, match="years 1 and 9999") as caught:
        timestamp(edge, "stated_at")
    assert caught.value.field == "stated_at"


def test_places_have_three_admin_levels_and_a_closed_precision() -> None:
    place = {"name": "Bangassou", "admin1": "Mbomou", "admin2": "Bangassou", "admin3": "Centre",
             "country": "CF", "precision": "admin2"}  # fmt: skip
    fields = Incident.report(an_incident(location=place)).location
    assert fields == {**place, "country_name": "Central African Republic", "lat": None, "lon": None}
    with pytest.raises(InvalidValue, match="exact, near, admin3") as caught:
        Incident.report(an_incident(location={**place, "precision": "city"}))
    assert caught.value.field == "location.precision"


def test_properties_keep_a_datasets_other_columns_within_bounds() -> None:
    columns = {
        "where_description": "near the market",
        "priogrid_gid": 137631,
        "event_clarity": 1,
        "deaths_unknown": None,
        "verified": True,
        "share": 0.5,
    }
    assert Incident.report(an_incident(properties=columns)).properties == columns
    assert Incident.report(an_incident()).properties == {}
    for bad, field in (
        ({"nested": {"a": 1}}, "properties.nested"),
        ({"listed": [1, 2]}, "properties.listed"),
        ({"inf": float("inf")}, "properties.inf"),
        ({"x" * 101: 1}, "properties." + "x" * 101),
        ({"big": "x" * 16_400}, "properties"),
        (["not", "an", "object"], "properties"),
    ):
        with pytest.raises(InvalidValue) as caught:
            Incident.report(an_incident(properties=bad))
        assert caught.value.field == field


def test_amending_properties_is_a_change_like_any_other() -> None:
    incident = Incident.report(an_incident(properties={"event_clarity": 1}))
    changed = incident.amend({"properties": {"event_clarity": 2}}, "new release")
    assert changed == {"properties": {"event_clarity": 2}}
    assert incident.amend({"properties": {"event_clarity": 2}}, "same again") == {}


def test_actors_are_named_objects_and_a_code_is_short_for_one() -> None:
    lra = {"name": "LRA: Lord's Resistance Army", "type": "rebel_group", "code": "LRA"}
    government = {"name": "Government of Central African Republic", "side": "CF",
                  "type": "state_forces"}  # fmt: skip
    found = Incident.report(an_incident(actors=["RU", lra, government, "RU"])).actors
    assert found == [
        {"name": "RU", "side": "RU", "type": None, "code": None},
        {**lra, "side": None},
        {**government, "code": None},
    ]  # distinct, in order
    for bad, field in (
        (["R U"], "actors.0"),
        ([{"side": "UA"}], "actors.0.name"),
        ([{"name": "x", "type": "bandits"}], "actors.0.type"),
        ([{"name": "x", "side": "not a code"}], "actors.0.side"),
        ([{"name": "x", "rank": 1}], "actors.0.rank"),
        ([7], "actors.0"),
    ):
        with pytest.raises(InvalidValue) as caught:
            Incident.report(an_incident(actors=bad))
        assert caught.value.field == field


@pytest.mark.parametrize(
    ("start", "end"),
    [("2022-03-05", "2022-03-04"), ("2022-03", "2022-02"), ("2022", "2021"),
     ("2022-03-05T00:00:00Z", "2022-03-04")],
)  # fmt: skip
def test_a_period_ending_before_the_start_is_refused(start: str, end: str) -> None:
    # A day before the start ends exactly when the start begins: still before it.
    with pytest.raises(InvalidValue) as caught:
        occurred({"start": start, "end": end})
    assert caught.value.field == "occurred.end"


def test_a_period_ending_the_day_it_starts_is_that_day() -> None:
    span = occurred({"start": "2022-03-05", "end": "2022-03-05"})
    assert span["end"] == "2022-03-06T00:00:00.000000+00:00"


def test_a_statements_totals_are_its_whole_figures_else_all_of_them() -> None:
    best = {"metric": "killed", "value": 9, "subject": None}
    parts = [{"metric": "killed", "value": 2, "subject": "UPC"},
             {"metric": "killed", "value": 7, "subject": "civilians"}]  # fmt: skip
    wounded = {"metric": "wounded", "value": 3, "subject": "UA"}
    assert totals([best, *parts, wounded]) == [best, wounded]
    assert totals(parts) == parts  # no whole figure: each is what the statement claims


def test_an_amendment_of_nothing_can_date_a_picture_published_again() -> None:
    incident = Incident.report(an_incident())
    assert incident.amend({}, "the same, in the June release") == {}
    assert incident.version == 1  # nothing to record
    incident.amend({}, "the same, in the June release", stated_at="2023-06-30T00:00:00Z",
                   always=True)  # fmt: skip
    assert incident.version == 2
    assert incident.picture_version("2023-07-01T00:00:00.000000+00:00") == 2

"""The Subscription aggregate's rules: what a subscription may say, and what it matches."""

from __future__ import annotations

from typing import Any

import pytest

from timeline.domain import Conflict, InvalidValue
from timeline.domain.subscription import Subscription, matches
from timeline.subscriptions import target_of


def a_subscription(**overrides: Any) -> Subscription:
    fields = {"url": "https://example.org/hook", "event_types": ["statement.recorded"]}
    return Subscription.create({**fields, **overrides}, "whsec_c2VjcmV0", start_position=7)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"url": "ftp://example.org/hook"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "https://user:pw@example.org/"}, "url"),
        ({"url": "https://example.org:99999/"}, "url"),
        ({"url": "https:///path-only"}, "url"),
        ({"event_types": []}, "event_types"),
        ({"event_types": ["statement.invented"]}, "event_types.0"),
        ({"filter": {"kinds": ["picnic"]}}, "filter.kinds.0"),
        ({"filter": {"sides": ["not a side!"]}}, "filter.sides.0"),
        ({"filter": {"colour": ["red"]}}, "filter.colour"),
        ({"filter": "strike"}, "filter"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        a_subscription(**fields)
    assert refused.value.field == field


def test_a_new_subscription_is_active_and_starts_after_its_position() -> None:
    subscription = a_subscription()
    assert subscription.status == "active"
    assert subscription.start_position == 7
    assert subscription.filter == {"kinds": [], "sides": []}


def test_pausing_resuming_and_resuming_a_disabled_one_clears_the_reason() -> None:
    subscription = a_subscription()
    assert subscription.change({"status": "paused"}) == {"status": "paused"}
    subscription.disable("The receiver answered 410 Gone.")
    assert subscription.status == "disabled"
    assert subscription.disabled_reason == "The receiver answered 410 Gone."
    subscription.change({"status": "active"})
    assert (subscription.status, subscription.disabled_reason) == ("active", None)
    with pytest.raises(InvalidValue):
        subscription.change({"status": "disabled"})  # only the service disables


def test_rotation_keeps_old_secrets_until_their_overlap_ends() -> None:
    subscription = a_subscription()
    subscription.rotate_secret(
        "whsec_bmV3", "2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00+00:00"
    )
    assert target_of(subscription).signing_secrets("2026-01-01T12:00:00+00:00") == [
        "whsec_bmV3",
        "whsec_c2VjcmV0",
    ]
    assert target_of(subscription).signing_secrets("2026-01-02T00:00:01+00:00") == ["whsec_bmV3"]
    subscription.rotate_secret(
        "whsec_dGhpcmQ=", "2026-01-03T00:00:00+00:00", "2026-01-04T00:00:00+00:00"
    )
    assert [s["secret"] for s in subscription.previous_secrets] == ["whsec_bmV3"]


def test_a_deleted_subscription_refuses_changes() -> None:
    subscription = a_subscription()
    subscription.delete()
    with pytest.raises(Conflict):
        subscription.change({"description": "again"})


def test_matching_by_type_kind_and_side() -> None:
    wanted = {
        "event_types": ["statement.recorded", "incident.reported"],
        "kinds": ["strike"],
        "sides": ["UA"],
    }
    assert matches("statement.recorded", "strike", "UA", **wanted)
    assert not matches("statement.recorded", "strike", "RU", **wanted)
    assert not matches("statement.recorded", "shelling", "UA", **wanted)
    assert matches("incident.reported", "strike", None, **wanted)  # no side: not narrowed
    assert not matches("incident.amended", "strike", None, **wanted)

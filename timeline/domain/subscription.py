"""The Subscription aggregate: who wants which new events, where, and with which secrets.

Subscriptions are event-sourced like incidents, but live in their own store: their events carry
signing secrets, so they never appear in the public log, the ledger or the live feed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from timeline.domain import values
from timeline.domain.errors import Conflict, InvalidValue
from timeline.domain.incident import Incident
from timeline.domain.values import By

# The public name of each event class a subscriber can receive.
EVENT_TYPES: dict[type[Any], str] = {
    Incident.IncidentReported: "incident.reported",
    Incident.IncidentAmended: "incident.amended",
    Incident.IncidentRetired: "incident.retired",
    Incident.IncidentRestored: "incident.restored",
    Incident.StatementRecorded: "statement.recorded",
    Incident.StatementWithdrawn: "statement.withdrawn",
}
STATUSES = ("active", "paused", "disabled")
MAX_URL_LENGTH = values.MAX_URL
MAX_DESCRIPTION = 500


def url(value: object, field: str = "url") -> str:
    """An absolute http(s) URL with a host; where it resolves to is checked elsewhere."""
    text = values.text(value, field, max_length=MAX_URL_LENGTH)
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        if "[" in text:
            raise InvalidValue("The host in brackets is not an IPv6 address.", field) from None
        raise InvalidValue("Not a valid URL.", field) from None
    if parts.scheme not in ("http", "https"):
        raise InvalidValue("Only http and https URLs can receive webhooks.", field)
    if not parts.hostname:
        raise InvalidValue("The URL needs a host.", field)
    if parts.username or parts.password:
        raise InvalidValue("Credentials in the URL are not allowed; use the signature.", field)
    if parts.fragment:
        raise InvalidValue("A webhook URL cannot have a #fragment.", field)
    return text


def event_types(value: object, field: str = "event_types") -> list[str]:
    """A non-empty list of known webhook event types."""
    allowed = tuple(EVENT_TYPES.values())
    checked = values.string_list(value, field, lambda v, f: values.choice(v, allowed, f))
    if not checked:
        raise InvalidValue(f"Name at least one of: {', '.join(allowed)}.", field)
    return checked


def event_filter(value: object, field: str = "filter") -> dict[str, list[str]]:
    """Optional narrowing: incident kinds and source sides (empty lists mean "any")."""
    if value is None:
        return {"kinds": [], "sides": []}
    if not isinstance(value, Mapping):
        raise InvalidValue("Must be an object with kinds and/or sides.", field)
    unknown = sorted(set(value) - {"kinds", "sides"})
    if unknown:
        raise InvalidValue(f"Unknown field(s): {', '.join(unknown)}.", f"{field}.{unknown[0]}")
    return {
        "kinds": values.string_list(
            value.get("kinds"), f"{field}.kinds", lambda v, f: values.choice(v, values.KINDS, f)
        ),
        "sides": values.string_list(value.get("sides"), f"{field}.sides", values.side),
    }


def description(value: object, field: str = "description") -> str:
    """Free text for the humans who manage subscriptions."""
    if value is None:
        return ""
    return values.text(value, field, max_length=MAX_DESCRIPTION, required=False)


def matches(
    event_type: str,
    kind: str | None,
    side: str | None,
    *,
    event_types: Sequence[str],
    kinds: Sequence[str],
    sides: Sequence[str],
) -> bool:
    """Whether an event of this type, incident kind and source side is wanted.

    Empty ``kinds``/``sides`` mean "any". The side filter narrows statement events only:
    incident events have no source.
    """
    if event_type not in event_types or (kinds and kind not in kinds):
        return False
    return not (sides and event_type.startswith("statement.") and side not in sides)


def settings_of(data: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """Validate the client-settable fields; with ``partial`` only those given."""
    checks = {
        "url": url,
        "event_types": event_types,
        "filter": event_filter,
        "description": description,
    }
    unknown = sorted(set(data) - set(checks) - {"status"})
    if unknown:
        raise InvalidValue(f"Unknown field(s): {', '.join(unknown)}.", unknown[0])
    if not partial:
        return {name: check(data.get(name)) for name, check in checks.items()}
    return {name: check(data[name]) for name, check in checks.items() if name in data}


class Subscription(Aggregate):
    """One receiver of webhooks. Only events after ``start_position`` are sent unless replayed."""

    @event("SubscriptionCreated")
    def __init__(
        self,
        id: UUID,
        url: str,
        event_types: list[str],
        filter: dict[str, list[str]],
        description: str,
        secret: str,
        start_position: int,
        by: By = None,
    ) -> None:
        self.url = url
        self.event_types = event_types
        self.filter = filter
        self.description = description
        self.secret = secret
        self.previous_secrets: list[dict[str, str]] = []
        self.start_position = start_position
        self.status = "active"
        self.disabled_reason: str | None = None
        self.deleted = False
        self.created_by = self.changed_by = by

    @classmethod
    def create(
        cls, fields: Mapping[str, Any], secret: str, start_position: int, by: By = None
    ) -> Subscription:
        """Validate a new subscription's settings and create it; ``by`` is the admin key."""
        checked = settings_of(fields)
        return cls(id=uuid4(), secret=secret, start_position=start_position, by=by, **checked)

    def change(self, changes: Mapping[str, Any], by: By = None) -> dict[str, Any]:
        """Change settings and/or pause or resume; returns what really changed."""
        self._check_exists()
        checked = settings_of(changes, partial=True)
        if "status" in changes:
            checked["status"] = values.choice(changes["status"], ("active", "paused"), "status")
        changed = {k: v for k, v in checked.items() if getattr(self, k) != v}
        if changed:
            self._changed(changed, by)
        return changed

    @event("SubscriptionChanged")
    def _changed(self, changes: dict[str, Any], by: By = None) -> None:
        self.changed_by = by
        for name, value in changes.items():
            setattr(self, name, value)
        if changes.get("status") == "active":
            self.disabled_reason = None

    def rotate_secret(
        self, secret: str, rotated_at: str, old_valid_until: str, by: By = None
    ) -> None:
        """Replace the secret; the old one keeps signing alongside until ``old_valid_until``."""
        self._check_exists()
        self._secret_rotated(
            secret,
            values.timestamp(rotated_at, "rotated_at"),
            values.timestamp(old_valid_until, "old_valid_until"),
            by,
        )

    @event("SubscriptionSecretRotated")
    def _secret_rotated(
        self, secret: str, rotated_at: str, old_valid_until: str, by: By = None
    ) -> None:
        self.changed_by = by
        still_valid = [s for s in self.previous_secrets if s["valid_until"] > rotated_at]
        self.previous_secrets = [
            *still_valid,
            {"secret": self.secret, "valid_until": old_valid_until},
        ]
        self.secret = secret

    def disable(self, reason: str) -> None:
        """Stop deliveries because the receiver asked (410) or kept failing; says why."""
        self._check_exists()
        if self.status != "disabled":
            self._disabled(values.text(reason, "reason", max_length=values.MAX_REASON))

    @event("SubscriptionDisabled")
    def _disabled(self, reason: str) -> None:
        self.changed_by = None  # the service itself
        self.status = "disabled"
        self.disabled_reason = reason

    def delete(self, by: By = None) -> None:
        """Remove the subscription; nothing more is delivered to it."""
        self._check_exists()
        self._deleted(by)

    @event("SubscriptionDeleted")
    def _deleted(self, by: By = None) -> None:
        self.changed_by = by
        self.deleted = True

    def _check_exists(self) -> None:
        if self.deleted:
            raise Conflict("This subscription was deleted.", None)

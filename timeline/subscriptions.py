"""SubscriptionsApp: webhook subscriptions, event-sourced in a store of their own.

Kept apart from the incident log because their events hold signing secrets: the public log, the
ledger and the live feed never see them. There are few subscriptions, so listing loads every
one; the dispatcher asks for the active ones on every batch and gets a copy cached until the
subscription log moves.
"""

from __future__ import annotations

import base64
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from timeline.domain import Conflict
from timeline.domain.errors import DomainError
from timeline.domain.subscription import Subscription, matches
from timeline.domain.values import By
from timeline.event_log import head_position, stream_ids
from timeline.webhooks.addresses import checked_addresses
from timeline.writing import MAX_ATTEMPTS, back_off


class SubscriptionNotFound(DomainError):
    """No subscription has this id (or it was deleted)."""


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


@dataclass(frozen=True)
class Target:
    """What delivery needs of a subscription, detached from the live aggregate."""

    id: str
    url: str
    event_types: tuple[str, ...]
    kinds: tuple[str, ...]
    sides: tuple[str, ...]
    start_position: int
    status: str
    secrets: tuple[tuple[str, str], ...]  # (secret, valid until or "" for the current one)

    def wants(self, event_type: str, kind: str | None, side: str | None) -> bool:
        """Whether this subscription's types and filter take the event (status aside)."""
        return matches(
            event_type, kind, side, event_types=self.event_types, kinds=self.kinds, sides=self.sides
        )

    def signing_secrets(self, now: str) -> list[str]:
        """Current secret first, then rotated-out ones still inside their overlap."""
        return [s for s, until in self.secrets if not until or until > now]


def target_of(subscription: Subscription) -> Target:
    """Freeze the parts of a subscription that the dispatcher and the sender use."""
    return Target(
        id=str(subscription.id),
        url=subscription.url,
        event_types=tuple(subscription.event_types),
        kinds=tuple(subscription.filter["kinds"]),
        sides=tuple(subscription.filter["sides"]),
        start_position=subscription.start_position,
        status=subscription.status,
        secrets=(
            (subscription.secret, ""),
            *((s["secret"], s["valid_until"]) for s in subscription.previous_secrets),
        ),
    )


def view_of(subscription: Subscription) -> dict[str, Any]:
    """A subscription as callers see it: never its secrets."""
    return {
        "id": str(subscription.id),
        "url": subscription.url,
        "event_types": list(subscription.event_types),
        "filter": {k: list(v) for k, v in subscription.filter.items()},
        "description": subscription.description,
        "status": subscription.status,
        "disabled_reason": subscription.disabled_reason,
        "start_position": subscription.start_position,
        "created_at": subscription.created_on,
        "updated_at": subscription.modified_on,
        "created_by": subscription.created_by,
        "updated_by": subscription.changed_by,
        "version": subscription.version,
    }


class SubscriptionsApp(Application[UUID]):
    """Commands and queries over webhook subscriptions."""

    name = "Subscriptions"

    def __init__(
        self, env: Mapping[str, str] | None = None, *, allow_private: bool = False
    ) -> None:
        super().__init__(env)
        self.allow_private = allow_private
        self._cache_lock = threading.Lock()
        self._cached: tuple[int, list[Target]] = (-1, [])

    def create(
        self, fields: Mapping[str, Any], start_position: int, by: By = None
    ) -> dict[str, Any]:
        """Create a subscription; the only answer that ever shows its secret.

        ``by`` (here and on every change) is the admin key, kept in the event for audit.
        """
        subscription = Subscription.create(fields, new_secret(), start_position, by)
        checked_addresses(subscription.url, self.allow_private)
        self.save(subscription)
        return view_of(subscription) | {"secret": subscription.secret}

    def change(
        self, subscription_id: UUID, changes: Mapping[str, Any], by: By = None
    ) -> dict[str, Any]:
        """Change settings, pause or resume; a new URL passes the SSRF guard first."""

        def change(subscription: Subscription) -> None:
            changed = subscription.change(changes, by)
            if "url" in changed:
                checked_addresses(subscription.url, self.allow_private)

        return self._retrying(subscription_id, change)

    def rotate_secret(
        self, subscription_id: UUID, overlap: timedelta, by: By = None
    ) -> dict[str, Any]:
        """New secret now; the old one also signs for ``overlap``. Returns both facts, once."""
        secret = new_secret()
        now = datetime.now(UTC)
        until = now + overlap

        def rotate(subscription: Subscription) -> None:
            subscription.rotate_secret(secret, now.isoformat(), until.isoformat(), by)

        view = self._retrying(subscription_id, rotate)
        return view | {"secret": secret, "previous_secret_valid_until": until}

    def disable(self, subscription_id: UUID, reason: str) -> dict[str, Any]:
        """Stop deliveries and say why (a 410 from the receiver, or sustained failure)."""
        return self._retrying(subscription_id, lambda s: s.disable(reason))

    def delete(self, subscription_id: UUID, by: By = None) -> None:
        """Delete a subscription; its delivery log stays for audit."""
        self._retrying(subscription_id, lambda s: s.delete(by))

    def get(self, subscription_id: UUID) -> dict[str, Any]:
        """One subscription, without secrets."""
        return view_of(self._load(subscription_id))

    def target(self, subscription_id: UUID) -> Target:
        """What the sender needs (including secrets) of one live subscription."""
        return target_of(self._load(subscription_id))

    def all(self) -> list[dict[str, Any]]:
        """Every live subscription, oldest first."""
        return [view_of(s) for s in self._all()]

    def targets(self) -> list[Target]:
        """Every live subscription as a target, cached until the subscription log moves."""
        head = head_position(self)
        with self._cache_lock:
            if self._cached[0] == head:
                return self._cached[1]
        found = [target_of(s) for s in self._all()]
        with self._cache_lock:
            self._cached = (head, found)
        return found

    def _all(self) -> list[Subscription]:
        loaded: list[Any] = [self.repository.get(i) for i in stream_ids(self)]
        return [s for s in loaded if isinstance(s, Subscription) and not s.deleted]

    def _load(self, subscription_id: UUID) -> Subscription:
        subscription: Any
        try:
            subscription = self.repository.get(subscription_id)
        except AggregateNotFoundError:
            subscription = None
        if not isinstance(subscription, Subscription) or subscription.deleted:
            raise SubscriptionNotFound(f"No subscription {subscription_id}.", "id")
        return subscription

    def _retrying(
        self, subscription_id: UUID, command: Callable[[Subscription], Any]
    ) -> dict[str, Any]:
        for attempt in range(MAX_ATTEMPTS):
            subscription = self._load(subscription_id)
            command(subscription)
            try:
                self.save(subscription)
            except IntegrityError:
                back_off(attempt)
                continue
            return view_of(subscription)
        raise Conflict("The subscription kept changing under concurrent writers; retry.", None)

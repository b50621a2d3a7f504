"""Helpers that read like the webhook domain: subscribe a receiver, deliver in-process."""

from __future__ import annotations

from typing import Any

from tests.webhooks.receiver import Receiver
from timeline.bootstrap import Services


def subscribe(services: Services, receiver: Receiver, **fields: Any) -> str:
    """Subscribe the receiver (all event types unless given) and teach it the secret."""
    created = services.subscriptions.create(
        {"url": receiver.url, "event_types": ALL_TYPES, **fields},
        start_position=services.app.head(),
    )
    receiver.secrets.append(created["secret"])
    return str(created["id"])


def deliver(services: Services, *subscription_ids: str) -> None:
    """Run the dispatcher, then each subscription's delivery job, in this process."""
    services.runner.run("webhooks")
    for subscription_id in subscription_ids:
        services.deliverer.drain(subscription_id)


ALL_TYPES = ["incident.reported", "incident.amended", "statement.recorded", "statement.withdrawn"]

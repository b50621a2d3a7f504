"""Webhook and live-feed fixtures: loopback receivers allowed, short retries and streams."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.webhooks.receiver import Receiver, running
from timeline.config import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test settings, letting webhooks reach loopback receivers and retry quickly."""
    return settings.with_changes(
        webhook_allow_private=True,
        webhook_retry_schedule=(0.2, 0.2, 0.2),
        webhook_timeout=1.0,
        stream_seconds=0.5,
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A verifying receiver on loopback."""
    with running(Receiver()) as serving:
        yield serving

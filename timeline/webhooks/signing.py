"""Standard Webhooks signatures, made by the ``standardwebhooks`` package.

During a secret rotation's overlap a delivery carries one ``v1,`` signature per valid secret,
space-separated, so receivers verify with either the old or the new secret.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook


def signed_headers(
    message_id: str, secrets: Sequence[str], body: str, at: datetime
) -> dict[str, str]:
    """The three Standard Webhooks headers for this body, sent at ``at``."""
    moment = at.astimezone(UTC)  # the package reads the wall time as UTC
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": " ".join(Webhook(s).sign(message_id, moment, body) for s in secrets),
    }

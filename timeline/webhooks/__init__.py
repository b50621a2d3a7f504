"""Webhooks: subscriptions are matched, signed, delivered and retried here."""

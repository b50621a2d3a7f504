"""The ApiKey aggregate: who may write, created and revoked on the record.

Only a hash of the key's secret is kept (keys are 32 random bytes, so a fast hash is enough);
the key itself is shown once, when created. Revocation is an event, so the key store is an audit
trail of who could write when.
"""

from __future__ import annotations

from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from timeline.domain import values
from timeline.domain.errors import Conflict

SCOPES = ("read", "write", "admin")


class ApiKey(Aggregate):
    """A named key with a scope; usable until revoked."""

    @event("ApiKeyCreated")
    def __init__(self, id: UUID, name: str, scope: str, secret_hash: str) -> None:
        self.name = name
        self.scope = scope
        self.secret_hash = secret_hash
        self.revoked_at: str | None = None

    @classmethod
    def create(cls, name: str, scope: str, secret_hash: str) -> ApiKey:
        """Validate the name and scope of a new key."""
        return cls(
            id=uuid4(),
            name=values.text(name, "name", max_length=values.MAX_NAME),
            scope=values.choice(scope, SCOPES, "scope"),
            secret_hash=secret_hash,
        )

    def revoke(self, at: str) -> None:
        """Stop the key working; it stays listed, revoked."""
        if self.revoked_at is not None:
            raise Conflict(f"Key {self.id} was already revoked.", "id")
        self._revoked(values.timestamp(at, "revoked_at"))

    @event("ApiKeyRevoked")
    def _revoked(self, revoked_at: str) -> None:
        self.revoked_at = revoked_at

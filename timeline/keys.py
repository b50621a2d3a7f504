"""KeysApp: API keys created, listed and revoked, stored hashed, checked in constant time.

A key reads ``tlk_<id>_<secret>``: the id (hex of the aggregate's UUID) finds the record, the
secret is checked against its SHA-256 with ``hmac.compare_digest``. Keys from
``TIMELINE_API_KEYS`` keep working beside these (a bootstrap, e.g. for the first admin).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application

from timeline.domain.api_key import ApiKey
from timeline.domain.errors import DomainError
from timeline.event_log import stream_ids

_KEY = re.compile(r"^tlk_([0-9a-f]{32})_([A-Za-z0-9_-]{20,100})$")


class KeyNotFound(DomainError):
    """No key has this id."""


@dataclass(frozen=True)
class Caller:
    """Who presented a valid key: its id and name (for the record) and its scope."""

    key_id: str
    name: str
    scope: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def bootstrap_caller(key: str, keys: Mapping[str, str], secret: str) -> Caller | None:
    """Match a key from TIMELINE_API_KEYS, comparing in constant time against every one.

    Its id, which every event it writes records in public, is an HMAC of the key under the
    service's ``secret``: an unkeyed hash would let anyone reading the log test guesses of
    the key (a demo key, a word) offline.
    """
    found = None
    for known, scope in keys.items():
        if hmac.compare_digest(key.encode(), known.encode()):
            digest = hmac.new(secret.encode(), known.encode(), hashlib.sha256).hexdigest()
            found = Caller(f"env-{digest[:16]}", f"TIMELINE_API_KEYS ({scope})", scope)
    return found


class KeysApp(Application[UUID]):
    """The key store."""

    name = "Keys"

    def create(self, name: str, scope: str) -> tuple[str, dict[str, Any]]:
        """Make a key; returns the key itself (shown this once) and its record."""
        secret = secrets.token_urlsafe(32)
        key = ApiKey.create(name, scope, _hash(secret))
        self.save(key)
        return f"tlk_{key.id.hex}_{secret}", _record(key)

    def revoke(self, key_id: str) -> dict[str, Any]:
        """Revoke a key by id; requests with it get 401 from then on."""
        key = self._load(key_id)
        key.revoke(datetime.now(UTC).isoformat())
        self.save(key)
        return _record(key)

    def all(self) -> list[dict[str, Any]]:
        """Every key ever made, oldest first, revoked ones included."""
        return [_record(self.repository.get(i)) for i in stream_ids(self)]

    def caller(self, presented: str) -> Caller | None:
        """The caller a presented key stands for, or None (unknown, malformed or revoked)."""
        match = _KEY.match(presented)
        if match is None:
            return None
        try:
            key: ApiKey = self.repository.get(UUID(match.group(1)))
        except AggregateNotFoundError:
            return None
        if not hmac.compare_digest(key.secret_hash, _hash(match.group(2))):
            return None
        if key.revoked_at is not None:
            return None
        return Caller(str(key.id), key.name, key.scope)

    def _load(self, key_id: str) -> ApiKey:
        try:
            key: ApiKey = self.repository.get(UUID(key_id))
        except (ValueError, AggregateNotFoundError):
            raise KeyNotFound(f"No key {key_id}.", "id") from None
        return key


def _record(key: ApiKey) -> dict[str, Any]:
    return {
        "id": str(key.id),
        "name": key.name,
        "scope": key.scope,
        "created_at": key.created_on.isoformat(timespec="seconds"),
        "revoked_at": key.revoked_at,
    }

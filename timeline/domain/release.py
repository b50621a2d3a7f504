"""Release: one published release of a dataset — when its source published it and exactly which
of its ids it lists.

Analysts load a source's releases in whatever order they find them. Whether an incident of a
namespace is on the timeline at a stated time t is decided by the newest release of that
namespace at or before t: listed, it is there; not listed, its source had removed it. Recording
each release (not only its rows) is what lets a release loaded late still say which later
releases left a row out, so any load order gives the same answer on every date.

One stream per (namespace, stated time): its id follows from them, so recording the same
release again finds it, and the same time with another list is a conflict. The list goes in
chunks (a large release lists hundreds of thousands of ids).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from timeline.domain.values import By

# uuid5 namespace of release streams (fixed: changing it would orphan every stored release).
RELEASES = uuid5(NAMESPACE_URL, "https://conflict-timeline.invalid/releases")
# Ids per event: keeps each stored event well under a megabyte.
CHUNK = 10_000


def release_stream(namespace: str, stated_at: str) -> UUID:
    """The id of the stream that holds one release (``stated_at``: canonical UTC text)."""
    return uuid5(RELEASES, f"{namespace}@{stated_at}")


def digest_of(external_ids: Iterable[str]) -> str:
    """A digest of a release's list (order does not matter): how a re-import is recognised."""
    hashed = hashlib.sha256()
    for value in sorted(set(external_ids)):
        hashed.update(value.encode() + b"\n")
    return hashed.hexdigest()


class Release(Aggregate):
    """A dataset's release: its namespace, when it was published, the ids it lists."""

    class ReleaseRecorded(Aggregate.Created):
        """A release was recorded: how many ids it lists, and their digest."""

        namespace: str
        stated_at: str
        rows: int
        digest: str
        by: By = None

    class ReleaseListed(Aggregate.Event):
        """Some of the ids the release lists (in chunks)."""

        external_ids: list[str]

    @staticmethod
    def create_id(namespace: str, stated_at: str, rows: int, digest: str, by: By = None) -> UUID:
        """The stream's id follows from the namespace and the stated time (the library calls
        this)."""
        return release_stream(namespace, stated_at)

    @event(ReleaseRecorded)
    def __init__(
        self, namespace: str, stated_at: str, rows: int, digest: str, by: By = None
    ) -> None:
        self.namespace = namespace
        self.stated_at = stated_at
        self.rows = rows
        self.digest = digest
        self.listed: set[str] = set()

    @classmethod
    def record(
        cls, namespace: str, stated_at: str, external_ids: Iterable[str], by: By = None
    ) -> Release:
        """A new release listing ``external_ids``."""
        ids = sorted(set(external_ids))
        release = cls(namespace=namespace, stated_at=stated_at, rows=len(ids),
                      digest=digest_of(ids), by=by)  # fmt: skip
        for start in range(0, len(ids), CHUNK):
            release._listed(ids[start : start + CHUNK])
        return release

    @event(ReleaseListed)
    def _listed(self, external_ids: list[str]) -> None:
        self.listed.update(external_ids)


# The one catalog stream of every release recorded.
CATALOG = uuid5(RELEASES, "catalog")


class ReleaseCatalog(Aggregate):
    """Every release recorded, by namespace and stated time, with how it compares with the
    release before it (what GET /api/v1/releases lists without reading any release's ids)."""

    class ReleaseCatalogCreated(Aggregate.Created):
        """The catalog was started."""

    class ReleaseCatalogued(Aggregate.Event):
        """A release was recorded."""

        namespace: str
        stated_at: str
        rows: int

    class ReleaseCompared(Aggregate.Event):
        """How a release compares with its namespace's release before it (which may change
        when an older release is loaded later)."""

        namespace: str
        stated_at: str
        previous: str | None
        added: int
        changed: int
        removed: int

    @staticmethod
    def create_id() -> UUID:
        """There is one catalog (the library calls this)."""
        return CATALOG

    @event(ReleaseCatalogCreated)
    def __init__(self) -> None:
        # (namespace, stated_at) → rows, previous, added, changed, removed
        self.releases: dict[str, dict[str, Any]] = {}

    @event(ReleaseCatalogued)
    def catalogue(self, namespace: str, stated_at: str, rows: int) -> None:
        """Add a release (the application checks it is not there yet)."""
        self.releases[_key(namespace, stated_at)] = {
            "namespace": namespace, "stated_at": stated_at, "rows": rows, "previous": None,
            "added": rows, "changed": 0, "removed": 0,
        }  # fmt: skip

    def compare(self, namespace: str, stated_at: str, counts: dict[str, Any]) -> None:
        """Record how a release compares with the one before it, if that changed."""
        known = self.releases[_key(namespace, stated_at)]
        if any(known[k] != v for k, v in counts.items()):
            self._compared(namespace, stated_at, **counts)

    @event(ReleaseCompared)
    def _compared(
        self, namespace: str, stated_at: str, previous: str | None, added: int, changed: int,
        removed: int,
    ) -> None:  # fmt: skip
        self.releases[_key(namespace, stated_at)].update(
            previous=previous, added=added, changed=changed, removed=removed
        )

    def times(self, namespace: str) -> list[str]:
        """The stated times of a namespace's releases, oldest first."""
        return sorted(r["stated_at"] for r in self.releases.values() if r["namespace"] == namespace)


def _key(namespace: str, stated_at: str) -> str:
    return f"{namespace}@{stated_at}"

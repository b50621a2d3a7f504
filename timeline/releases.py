"""Releases: recording a dataset's release, and keeping its namespace's incidents on the
timeline exactly where its releases list them, whatever order the releases were loaded in.

The rule (README, "Releases"): on the stated clock, an incident of a namespace is on the
timeline at time t when the newest release of that namespace at or before t lists it; one that
release does not list was removed by its source. An analyst's own retirement (a duplicate, an
error) is never undone here. After a release is recorded, every incident of its namespace is
checked at every release time of the namespace, and a retirement or restoration stated at that
time is written where the standing picture says otherwise — so a release loaded late still
retires, at the later releases' times, the rows they left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from timeline.application import TimelineApp
from timeline.domain import Conflict, values
from timeline.domain.release import (
    CATALOG,
    CHUNK,
    Release,
    ReleaseCatalog,
    digest_of,
    release_stream,
)
from timeline.domain.values import By
from timeline.pictures import Picture
from timeline.writing import back_off

REMOVED = "removed_by_source"
WRITES_PER_BATCH = 1000  # retirements and restorations a transaction
ATTEMPTS = 5


@dataclass(frozen=True)
class Recorded:
    """What recording a release did."""

    namespace: str
    stated_at: str
    rows: int
    new: bool  # False: the same release was recorded before (nothing new)
    retired: int  # retirements written, at this or another release's time
    restored: int


def record_release(
    app: TimelineApp,
    namespace: str,
    stated_at: object,
    listed: Iterable[str],
    others: Iterable[str] = (),
    by: By = None,
) -> Recorded:
    """Record that ``namespace``'s release of ``stated_at`` lists exactly ``listed``, then
    bring its incidents in line with every release of the namespace (``others``: more of its
    ids to check, e.g. incidents written outside any release). Recording the same release
    again writes nothing new; the same time with another list is a conflict."""
    values.external_ids({namespace: "x"})  # the namespace's rule, named as the API names it
    stated = values.stated_at(stated_at)
    ids = sorted(
        {
            values.text(one, f"external_ids.{index}", max_length=values.MAX_EXTERNAL_ID)
            for index, one in enumerate(listed)
        }
    )  # fmt: skip  (as an incident's external ids are: stripped, never blank)
    new = _record(app, namespace, stated, ids, by)
    retired, restored = reconcile(app, namespace, set(others) | set(ids), by)
    return Recorded(namespace, stated, len(ids), new, retired, restored)


def catalogue(app: TimelineApp, namespace: str | None = None) -> list[dict[str, Any]]:
    """Every release recorded (of one namespace), by namespace and stated time."""
    catalog = _catalog(app)
    found = [dict(r) for r in catalog.releases.values() if namespace in (None, r["namespace"])]
    return sorted(found, key=lambda r: (r["namespace"], r["stated_at"]))


def _catalog(app: TimelineApp) -> ReleaseCatalog:
    try:
        catalog: ReleaseCatalog = app.repository.get(CATALOG)
    except AggregateNotFoundError:
        catalog = ReleaseCatalog()
    return catalog


def _release(app: TimelineApp, namespace: str, stated: str) -> Release | None:
    try:
        release: Release = app.repository.get(release_stream(namespace, stated))
    except AggregateNotFoundError:
        return None
    return release


def _record(app: TimelineApp, namespace: str, stated: str, ids: list[str], by: By) -> bool:
    """Save the release and its place in the catalog (one transaction); False: recorded
    before with the same list."""
    for attempt in range(ATTEMPTS):
        known = _release(app, namespace, stated)
        if known is not None:
            if known.digest != digest_of(ids):
                raise Conflict(
                    f"A release of {namespace} stated at {stated} is recorded already, listing "
                    f"other ids ({known.rows}); a release, once recorded, is not changed.",
                    "external_ids",
                )
            return False
        catalog = _catalog(app)
        catalog.catalogue(namespace, stated, len(ids))
        try:
            app.save(Release.record(namespace, stated, ids, by), catalog)
        except IntegrityError:
            back_off(attempt)  # another release was catalogued meanwhile
            continue
        return True
    raise Conflict("The catalog of releases kept changing; try again.", None)


def reconcile(app: TimelineApp, namespace: str, others: set[str], by: By = None) -> tuple[int, int]:
    """Make every incident of the namespace live at each release time exactly when that
    release lists it; then record how each release compares with the one before. Returns the
    retirements and restorations written.

    Read in chunks (each incident's pictures replayed in memory, a few queries a chunk),
    decided in memory, written as one batch a chunk: a write at one release time changes what
    stands at the later ones until their own versions, so each decision sees the ones before.
    """
    times = _catalog(app).times(namespace)
    lists: list[set[str]] = []
    for when in times:
        release = _release(app, namespace, when)
        lists.append(release.listed if release is not None else set())
    everyone = sorted(set(others).union(*lists))
    retired = restored = 0
    changed = [0] * len(times)
    for start in range(0, len(everyone), CHUNK):
        items: list[dict[str, Any]] = []
        for value, pictures in app.pictures_of(namespace, everyone[start : start + CHUNK]).items():
            writes = _decide(value, pictures, times, lists)
            for when, gone in writes:
                item: dict[str, Any] = {"external_ids": {namespace: value}, "stated_at": when}
                if gone:
                    why = f"not in the release of {when}"
                    item |= {"reason": why, "retire": {"reason": REMOVED, "note": why}}
                    retired += 1
                else:
                    item["reason"] = f"listed in the release of {when}"
                    restored += 1
                items.append(item)
            _count_changes(value, pictures, times, lists, changed)
        for first in range(0, len(items), WRITES_PER_BATCH):  # an incident's writes in order
            app.apply_batch(items[first : first + WRITES_PER_BATCH], by=by, as_published=True)
    _compare(app, namespace, times, lists, changed)
    return retired, restored


def standing_at(pictures: list[Picture], when: str) -> Picture | None:
    """The picture standing at ``when``: stated last by then (ties: the later version)."""
    found = [p for p in pictures if p.stated_at <= when]
    return max(found, key=lambda p: (p.stated_at, p.version)) if found else None


def _decide(
    value: str, pictures: list[Picture], times: list[str], lists: list[set[str]]
) -> list[tuple[str, bool]]:
    """The retirements (True) and restorations (False) to write, with their times, so that
    the incident is live at each release time exactly when that release lists it. Each write
    is added to ``pictures`` as the picture it will make (the standing fields, the new
    retirement, the newest version), so the later times see it."""
    writes = []
    for when, listed in zip(times, lists, strict=True):
        standing = standing_at(pictures, when)
        if standing is None:
            continue  # not published yet then
        gone = standing.retired
        if value in listed and gone is not None and gone["reason"] == REMOVED:
            writes.append((when, False))
            retirement = None
        elif value not in listed and gone is None:
            writes.append((when, True))
            retirement = {"reason": REMOVED}
        else:
            continue
        newest = max(p.version for p in pictures) + 1
        pictures.append(Picture(newest, standing.fields, retirement, when))
    return writes


def _count_changes(
    value: str, pictures: list[Picture], times: list[str], lists: list[set[str]],
    changed: list[int],
) -> None:  # fmt: skip
    """Count, per release, whether it listed this incident with other fields than the release
    before it (both listing it)."""
    for n in range(1, len(times)):
        before, now = standing_at(pictures, times[n - 1]), standing_at(pictures, times[n])
        both = value in lists[n - 1] and value in lists[n]
        if both and before and now and before.fields != now.fields:
            changed[n] += 1


def _compare(
    app: TimelineApp, namespace: str, times: list[str], lists: list[set[str]], changed: list[int]
) -> None:
    """Record how each release compares with the one before it, where that changed."""
    for attempt in range(ATTEMPTS):
        catalog = _catalog(app)
        for n, when in enumerate(times):
            previous = lists[n - 1] if n else set()
            catalog.compare(namespace, when, {
                "previous": times[n - 1] if n else None,
                "added": len(lists[n] - previous),
                "changed": changed[n],
                "removed": len(previous - lists[n]),
            })  # fmt: skip
        try:
            app.save(catalog)
        except IntegrityError:
            back_off(attempt)
            continue
        return
    raise Conflict("The catalog of releases kept changing; try again.", None)

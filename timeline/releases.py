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
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from timeline.application import Revision, TimelineApp, back_off
from timeline.domain import Conflict, values
from timeline.domain.release import CATALOG, Release, ReleaseCatalog, digest_of, release_stream
from timeline.domain.values import By

REMOVED = "removed_by_source"
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
    ids = sorted(set(listed))
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
    retirements and restorations written."""
    times = _catalog(app).times(namespace)
    lists: list[set[str]] = []
    for when in times:
        release = _release(app, namespace, when)
        lists.append(release.listed if release is not None else set())
    everyone = set(others).union(*lists) if lists else set(others)
    retired = restored = 0
    changed = [0] * len(times)
    for value in sorted(everyone):
        found = app.incident_by_external_id(namespace, value)
        if found is None:
            continue
        incident_id = UUID(found)
        pictures = app.pictures_at(incident_id, times)
        for n, (when, picture) in enumerate(zip(times, pictures, strict=True)):
            if picture is None:
                continue  # not published yet then
            is_listed = value in lists[n]
            gone = picture.retired
            if is_listed and gone is not None and gone["reason"] == REMOVED:
                app.revise(incident_id, Revision({}, f"listed in the release of {when}", when,
                                                 restore=True), by)  # fmt: skip
                restored += 1
            elif not is_listed and gone is None:
                retirement = {"reason": REMOVED, "note": f"not in the release of {when}"}
                app.revise(incident_id, Revision({}, f"not in the release of {when}", when,
                                                 retire=retirement), by)  # fmt: skip
                retired += 1
        changed = _changes(app, incident_id, value, times, lists, changed)
    _compare(app, namespace, times, lists, changed)
    return retired, restored


def _changes(
    app: TimelineApp, incident_id: UUID, value: str, times: list[str],
    lists: list[set[str]], changed: list[int],
) -> list[int]:  # fmt: skip
    """Count, per release, whether it listed this incident with other fields than the release
    before it (both listing it)."""
    pictures = app.pictures_at(incident_id, times)
    for n in range(1, len(times)):
        before, now = pictures[n - 1], pictures[n]
        both = value in lists[n - 1] and value in lists[n]
        if both and before and now and before.fields != now.fields:
            changed[n] += 1
    return changed


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

"""Running an import: check every row, then send the good ones in chunks, each an upsert.

Two passes over the file: the first checks every row (so every problem is reported at once,
and the progress bar knows the total), the second sends. With ``on_error="stop"`` nothing is
sent when any row is bad; with ``"skip"`` the bad rows are left out. Each chunk is one /batch
(one transaction): an interrupted import has written whole chunks, and running it again writes
only what is missing. A whole release is then recorded (:mod:`timeline.releases`): it retires,
as of its time, the namespace's incidents it does not list.
"""

from __future__ import annotations

import csv
import json
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from timeline.application import TimelineApp
from timeline.domain import DomainError
from timeline.domain.values import By
from timeline.importing import acled, ndjson, ucdp_ged
from timeline.importing.rows import Parsed, Problem
from timeline.releases import record_release

# Each reads a file into rows: checked (``check=True``: the first pass, every problem found)
# or only mapped (the second pass, which the application checks again as it writes).
FORMATS: dict[str, Callable[..., Iterator[Parsed]]] = {
    "acled": acled.read,
    "ucdp-ged": ucdp_ged.read,
    "ndjson": ndjson.read,
}
NAMESPACES = {"acled": acled.NAMESPACE, "ucdp-ged": ucdp_ged.NAMESPACE}
CHUNK = 1000
OnError = Literal["stop", "skip"]


class Sink(Protocol):
    """Where chunks go: the application here, or a service's /batch."""

    def send(self, items: list[dict[str, Any]], stated_at: str | None) -> list[str]:
        """Upsert the items in one transaction; returns each item's outcome. With a
        ``stated_at``, the items are a release's rows (each gets a version dated by it)."""

    def external_ids(self, namespace: str) -> set[str]:
        """The ids of the namespace that name live (not retired) incidents now."""

    def record_release(self, namespace: str, stated_at: str, listed: set[str]) -> dict[str, Any]:
        """Record the release (the ids it lists) and bring the namespace in line with every
        release of it; returns what that did (rows, new, retired, restored)."""


def outcome_of(outcome: str, statements: Sequence[object]) -> str:
    """What a row did, for the summary: a row whose incident is unchanged but whose statement
    is new (the dataset changed its figures or text) is "restated", not "unchanged"."""
    if outcome in ("unchanged", "listed") and statements:
        return "restated"
    return outcome


class SendFailed(Exception):
    """A chunk was refused (its first problem, as the service named it)."""


@dataclass
class Summary:
    """What an import did."""

    rows: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    # Rows stored as published where the source broke its own rules: how many, and each code.
    flagged: int = 0
    flags: Counter[str] = field(default_factory=Counter)
    # The external ids of every row, refused ones too (what a release lists).
    named: set[str] = field(default_factory=set)
    # The external ids sent (a second time: "repeated").
    listed: set[str] = field(default_factory=set)


def check_all(rows: Iterable[Parsed], on_row: Callable[[], None] = lambda: None) -> Summary:
    """The first pass: count the rows and collect every problem."""
    summary = Summary()
    for parsed in rows:
        if parsed.row:
            summary.rows += 1
        summary.problems += parsed.problems
        if parsed.external_id is not None:
            summary.named.add(parsed.external_id)
        if parsed.flags and not parsed.problems:
            summary.flagged += 1
            summary.flags.update(parsed.flags)
        on_row()
    return summary


def send_all(
    rows: Iterable[Parsed],
    sink: Sink,
    summary: Summary,
    stated_at: str | None = None,
    chunk: int = CHUNK,
    on_sent: Callable[[int], None] = lambda n: None,
) -> Summary:
    """The second pass: send the good rows in chunks of at most ``chunk`` items."""
    seen = summary.listed
    pending: list[dict[str, Any]] = []

    def flush() -> None:
        if pending:
            summary.outcomes.update(sink.send(pending, stated_at))
            on_sent(len(pending))
            pending.clear()

    bad = {p.row for p in summary.problems}
    for parsed in rows:
        if parsed.item is None or parsed.row in bad:
            continue
        if parsed.external_id is not None:
            if parsed.external_id in seen:  # the file lists it twice: the last one stands
                summary.outcomes["repeated"] += 1
            seen.add(parsed.external_id)
        pending.append(parsed.item)
        if len(pending) >= chunk:
            flush()
    flush()
    return summary


def write_report(path: Path, problems: list[Problem]) -> None:
    """Every problem as CSV: row, column, reason (row 0: the file as a whole)."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["row", "column", "reason"])
        writer.writerows((p.row, p.column, p.reason) for p in problems)


class LocalSink:
    """Chunks through this process's application (the event store it is configured with)."""

    def __init__(self, app: TimelineApp, reads: Any, by: By = None) -> None:
        self.app = app
        self.reads = reads
        self.by = by

    def send(self, items: list[dict[str, Any]], stated_at: str | None) -> list[str]:
        """One batch through the application."""
        try:
            written = self.app.apply_batch(
                items, by=self.by, stated_at=stated_at, as_published=True,
                listed=stated_at is not None,
            )  # fmt: skip
        except DomainError as error:
            raise SendFailed(f"{error.field}: {error.message}") from error
        return [outcome_of(w.outcome, w.statements) for w in written]

    def external_ids(self, namespace: str) -> set[str]:
        """From the incident listing (the timeline read model, caught up first)."""
        found: set[str] = self.reads.external_ids(namespace)
        return found

    def record_release(self, namespace: str, stated_at: str, listed: set[str]) -> dict[str, Any]:
        """Through the application (the read models caught up first give the live ids)."""
        try:
            done = record_release(self.app, namespace, stated_at, listed,
                                  self.external_ids(namespace), self.by)  # fmt: skip
        except DomainError as error:
            raise SendFailed(f"{error.field}: {error.message}") from error
        return {"rows": done.rows, "new": done.new, "retired": done.retired,
                "restored": done.restored}  # fmt: skip


def service_base(url: str) -> str:
    """The service's base URL, whether it was given with ``/api/v1`` (as the banner prints the
    API's address) or without."""
    base = url.strip().rstrip("/")
    return base.removesuffix("/api/v1").rstrip("/")


def _refusal(error: urllib.error.HTTPError, base: str, path: str) -> str:
    """A refused request in one line: the status and the service's own message."""
    text = error.read().decode(errors="replace")
    try:
        message = json.loads(text).get("message") or text
    except (ValueError, AttributeError):
        message = text
    if error.code == 404 and not text.lstrip().startswith("{"):
        return f"no timeline API at {base} (404 on {path}); give the service's base URL"
    if error.code == 401:
        return f"the key was refused (401): {message}"
    return f"{error.code}: {str(message)[:500]}"


class RemoteSink:
    """Chunks to a running service's /batch, with a write key."""

    def __init__(self, url: str, key: str, timeout: float = 300.0) -> None:
        self.url = service_base(url)
        self.key = key
        self.timeout = timeout

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return json.load(answer)
        except urllib.error.HTTPError as error:
            raise SendFailed(_refusal(error, self.url, path)) from error
        except urllib.error.URLError as error:
            raise SendFailed(f"cannot reach {self.url}: {error.reason}") from error
        except (OSError, ValueError) as error:  # a reset, a timeout; an answer that is not JSON
            raise SendFailed(f"no usable answer from {self.url}{path}: {error}") from error

    def send(self, items: list[dict[str, Any]], stated_at: str | None) -> list[str]:
        """One POST /api/v1/batch."""
        body: dict[str, Any] = {"items": items, "as_published": True}
        if stated_at:
            body |= {"stated_at": stated_at, "listed": True}
        answer = self._call("POST", "/api/v1/batch", body)
        return [outcome_of(item["outcome"], item["statements"]) for item in answer["items"]]

    def record_release(self, namespace: str, stated_at: str, listed: set[str]) -> dict[str, Any]:
        """One POST /api/v1/releases."""
        body = {"namespace": namespace, "stated_at": stated_at, "external_ids": sorted(listed)}
        answer: dict[str, Any] = self._call("POST", "/api/v1/releases", body)
        return answer

    def external_ids(self, namespace: str) -> set[str]:
        """From GET /api/v1/incidents?namespace=…, page by page."""
        found: set[str] = set()
        cursor = ""
        while True:
            query = f"namespace={namespace}&limit=1000" + (f"&cursor={cursor}" if cursor else "")
            page = self._call("GET", f"/api/v1/incidents?{query}")
            found.update(i["external_ids"][namespace] for i in page["items"])
            cursor = page.get("next_cursor") or ""
            if not cursor:
                return found

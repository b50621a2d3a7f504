"""Running an import: one pass over the file, chunk by chunk, each chunk an upsert.

Rows stream from the reader (its problems: a row without an id, a column it cannot read) into
chunks; each chunk goes through the bulk writer (:mod:`timeline.bulk`), which applies the
domain's rules and says which rows it refused, naming the field — reported here under the
dataset's own column. Memory stays that of one chunk, whatever the file's size.

``on_error="skip"`` writes every good row and reports the others. ``"stop"`` writes chunk by
chunk until the first refused row: its chunk and every later one are only checked, so every
problem in the file is still reported, and the rows written before it are whole chunks — an
interrupted import, which running it again (once the rows are fixed) completes, writing only
what is missing. ``dry_run`` checks every chunk and writes nothing. A whole release is then
recorded (:mod:`timeline.releases`): it retires, as of its time, the namespace's incidents it
does not list.
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
from timeline.bulk import BulkWriter, OnRefused, Options
from timeline.domain import DomainError
from timeline.domain.values import By
from timeline.importing import acled, ndjson, ucdp_ged
from timeline.importing.rows import Parsed, Problem, column_of
from timeline.releases import record_release

# Each reads a file into rows, mapped (the writer applies the domain's rules).
FORMATS: dict[str, Callable[..., Iterator[Parsed]]] = {
    "acled": acled.read,
    "ucdp-ged": ucdp_ged.read,
    "ndjson": ndjson.read,
}
NAMESPACES = {"acled": acled.NAMESPACE, "ucdp-ged": ucdp_ged.NAMESPACE}
CHUNK = 1000
OnError = Literal["stop", "skip"]


@dataclass
class Sent:
    """What a chunk did: each written item's (index, outcome, flag codes), and each refused
    item's (index, field within the item, message)."""

    written: list[tuple[int, str, Sequence[str]]] = field(default_factory=list)
    refused: list[tuple[int, str, str]] = field(default_factory=list)


class Sink(Protocol):
    """Where chunks go: the application here, or a service's /batch."""

    def send(
        self, items: list[dict[str, Any]], stated_at: str | None, on_refused: OnRefused,
        save: bool,
    ) -> Sent:  # fmt: skip
        """Upsert the items in one transaction: refused ones left out (``skip``), or nothing
        written when any is refused (``hold``); ``save=False`` only checks. With a
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
    """A chunk could not be sent (the service refused the request as a whole, or is down)."""


@dataclass
class Summary:
    """What an import did."""

    rows: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    # Rows refused (by the reader or the writer), and the first of them.
    refused: int = 0
    # Rows stored as published where the source broke its own rules: how many, and each code.
    flagged: int = 0
    flags: Counter[str] = field(default_factory=Counter)
    # The external ids of every row, refused ones too (what a release lists).
    named: set[str] = field(default_factory=set)
    # Under --on-error stop: the row from which nothing more was written (None: all went in).
    stopped_at: int | None = None

    @property
    def written(self) -> int:
        """Rows that went in (a row listed twice counts once, as "repeated")."""
        return sum(n for outcome, n in self.outcomes.items() if outcome != "repeated")


def load(
    rows: Iterable[Parsed],
    sink: Sink,
    on_error: OnError = "stop",
    stated_at: str | None = None,
    chunk: int = CHUNK,
    dry_run: bool = False,
    summary: Summary | None = None,
) -> Summary:
    """Stream the rows into the sink in chunks of at most ``chunk`` items (see the module
    doc); ``summary`` (given, it is filled as the import goes) says what happened."""
    summary = summary if summary is not None else Summary()
    pending: list[Parsed] = []
    writing = not dry_run

    def stop(row: int) -> None:
        nonlocal writing
        if on_error == "stop" and writing:
            writing = False
            summary.stopped_at = row

    def flush() -> None:
        if not pending:
            return
        items = [p.item for p in pending if p.item is not None]
        mode: OnRefused = "skip" if on_error == "skip" else "hold"
        sent = sink.send(items, stated_at, mode, writing)
        for index, where, message in sent.refused:
            parsed = pending[index]
            summary.problems.append(Problem(parsed.row, column_of(where, parsed.columns),
                                            message))  # fmt: skip
            summary.refused += 1
        if sent.refused:
            stop(pending[min(i for i, _, _ in sent.refused)].row)
        for _, outcome, flags in sent.written:
            summary.outcomes[outcome] += 1
            if flags:
                summary.flagged += 1
                summary.flags.update(flags)
        pending.clear()

    for parsed in rows:
        if parsed.row:
            summary.rows += 1
        if parsed.external_id is not None:
            if parsed.external_id in summary.named and parsed.item is not None:
                summary.outcomes["repeated"] += 1  # the file lists it twice: the last one stands
            summary.named.add(parsed.external_id)
        if parsed.problems:
            summary.problems += parsed.problems
            if parsed.row == 0:  # the file as a whole (its header): nothing can go in
                writing = False
                summary.stopped_at = 0
                continue
            summary.refused += 1
            stop(parsed.row)
            continue
        pending.append(parsed)
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

    def send(
        self, items: list[dict[str, Any]], stated_at: str | None, on_refused: OnRefused,
        save: bool,
    ) -> Sent:  # fmt: skip
        """One chunk through the bulk writer."""
        options = Options(self.by, stated_at, as_published=True, listed=stated_at is not None)
        done = BulkWriter(self.app).write(items, options, on_refused, save)
        return Sent(
            [(i, outcome_of(w.outcome, w.statements), w.flags) for i, w in done.written],
            [(r.index, r.error.field or "", r.error.message) for r in done.refused],
        )

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


class Refused(SendFailed):
    """The service refused a request: its status and message in one line, and its answer."""

    def __init__(self, line: str, answer: dict[str, Any]) -> None:
        super().__init__(line)
        self.answer = answer


def _refused(error: urllib.error.HTTPError, base: str, path: str) -> Refused:
    """A refused request in one line: the status and the service's own message."""
    text = error.read().decode(errors="replace")
    try:
        answer = json.loads(text)
        message = answer.get("message") or text
    except (ValueError, AttributeError):
        answer, message = {}, text
    answer = answer if isinstance(answer, dict) else {}
    if error.code == 404 and not text.lstrip().startswith("{"):
        return Refused(f"no timeline API at {base} (404 on {path}); give the service's base URL",
                       answer)  # fmt: skip
    if error.code == 401:
        return Refused(f"the key was refused (401): {message}", answer)
    return Refused(f"{error.code}: {str(message)[:500]}", answer)


def _invalid_items(answer: dict[str, Any]) -> dict[int, tuple[str, str]]:
    """The items a 422 of the request's schema names (``errors.json.items.N``): each one's
    first field (dotted) and message."""
    errors = ((answer.get("errors") or {}).get("json") or {}).get("items")
    if not isinstance(errors, dict) or not all(str(k).isdigit() for k in errors):
        return {}
    found = {}
    for index, nested in errors.items():
        path = []
        while isinstance(nested, dict) and nested:
            key, nested = next(iter(nested.items()))
            path.append(str(key))
        message = nested[0] if isinstance(nested, list) and nested else str(nested)
        found[int(index)] = (".".join(path), str(message))
    return found


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
            raise _refused(error, self.url, path) from error
        except urllib.error.URLError as error:
            raise SendFailed(f"cannot reach {self.url}: {error.reason}") from error
        except (OSError, ValueError) as error:  # a reset, a timeout; an answer that is not JSON
            raise SendFailed(f"no usable answer from {self.url}{path}: {error}") from error

    def send(
        self, items: list[dict[str, Any]], stated_at: str | None, on_refused: OnRefused,
        save: bool,
    ) -> Sent:  # fmt: skip
        """One POST /api/v1/batch (a chunk held for a refused item answers 422, listing
        every refused item). Items the request's schema refuses (it refuses a request whole)
        are set aside as refused and the rest sent again."""
        places = list(range(len(items)))  # each item sent: its place in the chunk
        sent = Sent()
        while places:
            body: dict[str, Any] = {"items": [items[i] for i in places], "as_published": True,
                                    "on_refused": on_refused, "dry_run": not save}  # fmt: skip
            if stated_at:
                body |= {"stated_at": stated_at, "listed": True}
            try:
                answer = self._call("POST", "/api/v1/batch", body)
            except Refused as refused:
                answer = refused.answer
                invalid = _invalid_items(answer)
                if not answer.get("refused") and not invalid:
                    raise
                if invalid:  # the schema's refusals: the others again (only checked, if held)
                    sent.refused += [(places[i], where, why) for i, (where, why) in invalid.items()]
                    places = [p for i, p in enumerate(places) if i not in invalid]
                    save = save and on_refused == "skip"
                    continue
            sent.written += [(places[item["index"]], outcome_of(item["outcome"],
                              item["statements"]), item["flags"])
                             for item in answer.get("items") or []]  # fmt: skip
            sent.refused += [(places[r["index"]], r["field"], r["message"])
                             for r in answer["refused"]]  # fmt: skip
            break
        return sent

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

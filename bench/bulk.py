"""Bulk ingest: import, /batch and rebuild beside the `eventsourcing` floor, in one run.

    python bench/bulk.py [--backend sqlite|postgres] [--rows 30000] [--http] [--ucdp N]
                         [--profile FILE]

Generates a monitor's sheet of ``--rows`` rows (the layout of examples/monitor.csv, mapped by
examples/monitor.toml: each row an incident and its statement). Then, on one backend:

- the floor: the `eventsourcing` library alone creating and saving the same rows as two-event
  aggregates (the incident's fields, then its statement), 1,000 a save, in a bare application
  on an empty store of the same backend;
- `timeline import csv --mapping … --no-catch-up` of the file, as a user runs it (a child
  process; peak memory from its rusage); ratio to the floor (target >= 0.5);
- the floor for read models: reading and decoding every event of the log that import wrote
  (SELECT + decode: ``timeline.event_log.read_log``), and `timeline rebuild` of every read
  model (a child process); ratio (target >= 0.5);
- ``--http``: the same rows as /batch requests of 1,000 items from 4 client threads into a
  served API (`timeline serve`, 2 web workers); ratio to the floor (target >= 0.3);
- ``--ucdp N``: a synthetic UCDP GED release of N rows imported with the read models caught
  up at the end (target < 90 s at 300,000), and its peak memory beside the 30k-row import's.

``--profile FILE`` writes a cProfile of the import (the child process) to FILE.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from common import KEY, cli, deployment, env_of, rate, served
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from timeline.bootstrap import build, event_store_env
from timeline.config import Settings
from timeline.event_log import read_log
from timeline.importing import mapped

ROOT = Path(__file__).resolve().parent.parent
MAPPING = ROOT / "examples" / "monitor.toml"
UCDP_FIXTURE = ROOT / "tests" / "fixtures" / "ucdp_ged" / "ged.csv"
TOWNS = [
    ("Kherson", "Kherson Oblast", 46.6354, 32.6169),
    ("Kramatorsk", "Donetsk Oblast", 48.7389, 37.5848),
    ("Kharkiv", "Kharkiv Oblast", 49.9935, 36.2304),
    ("Zaporizhzhia", "Zaporizhzhia Oblast", 47.8388, 35.1396),
    ("Nikopol", "Dnipropetrovsk Oblast", 47.5712, 34.3964),
]
CATEGORIES = ["Shelling", "Missile strike", "Drone strike", "Air raid"]


def monitor_sheet(path: Path, rows: int) -> None:
    """A monitor's sheet: varied towns, categories, dates, figures and summaries."""
    columns = [
        "entry",
        "date",
        "end_date",
        "category",
        "town",
        "oblast",
        "country",
        "latitude",
        "longitude",
        "summary",
        "link",
        "killed",
        "killed_low",
        "weapon",
    ]
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for n in range(rows):
            town, oblast, lat, lon = TOWNS[n % len(TOWNS)]
            day = f"{2022 + n // 8000}-{1 + n // 700 % 12:02d}-{1 + n % 28:02d}"
            killed = n % 7
            writer.writerow([
                f"MON-{n:07d}", day, "", CATEGORIES[n % len(CATEGORIES)], town, oblast,
                "Ukraine", f"{lat + (n % 97) / 1000:.4f}", f"{lon + (n % 89) / 1000:.4f}",
                f"Entry {n}: {CATEGORIES[n % 4].lower()} reported in {town}, "
                "damage to homes and a school, figures from the regional administration.",
                f"https://example.org/monitor/{n}", killed or "", max(0, killed - 1) or "",
                "artillery",
            ])  # fmt: skip


def ucdp_release(path: Path, rows: int) -> None:
    """A UCDP GED layout release of ``rows`` rows shaped like the fixture's."""
    with UCDP_FIXTURE.open(newline="") as f:
        reader = csv.DictReader(f)
        columns = list(reader.fieldnames or [])
        templates = [r for r in reader if r["date_start"] and r["latitude"]
                     and r["best"].isdigit() and len(r["source_article"]) < 4000]  # fmt: skip
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        for n in range(rows):
            row = dict(templates[n % len(templates)])
            year = 1989 + n // 12000
            day = f"{year}-{1 + n // 1000 % 12:02d}-{1 + n % 28:02d} 00:00:00.000"
            row |= {"id": str(1_000_000 + n), "relid": f"BENCH-{n}", "year": str(year),
                    "date_start": day, "date_end": day}  # fmt: skip
            writer.writerow(row)


# ---------------------------------------------------------------- the floor


class Row(Aggregate):
    """A row as the library alone would store it: created with its fields, then stated."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields
        self.statements: list[dict[str, Any]] = []

    @event("Stated")
    def state(self, statement: dict[str, Any]) -> None:
        self.statements.append(statement)


class Floor(Application[Any]):
    """A bare application of the library, no rules of ours."""

    name = "Floor"


def parsed_items(path: Path) -> list[dict[str, Any]]:
    """The /batch items the mapped reader makes of the sheet (fields and statements)."""
    columns = mapped.load_mapping(MAPPING)
    return [p.item for p in mapped.read(path, None, None, "utf-8", mapping=columns)
            if p.item is not None]  # fmt: skip


def floor(settings: Settings, items: list[dict[str, Any]]) -> float:
    """Seconds for the library to create and save the rows as two-event aggregates."""
    app = Floor(event_store_env(settings))
    # (as JSON types, which the library's transcoder takes as they are)
    plain = json.loads(json.dumps(items, default=str))
    started = time.perf_counter()
    for start in range(0, len(plain), 1000):
        rows = []
        for item in plain[start : start + 1000]:
            statements = item.pop("statements", None) or []
            row = Row(item)
            for statement in statements:
                row.state(statement)
            rows.append(row)
        app.save(*rows)
    seconds = time.perf_counter() - started
    app.close()
    return seconds


def read_all(settings: Settings) -> tuple[int, float]:
    """Events read and seconds to SELECT and decode the whole log."""
    services = build(settings)
    started = time.perf_counter()
    position, read = 0, 0
    while entries := read_log(services.app, position, 1000):
        position, read = entries[-1].position, read + len(entries)
    seconds = time.perf_counter() - started
    services.close()
    return read, seconds


def post_batches(url: str, items: list[dict[str, Any]], clients: int = 4) -> float:
    """Seconds to send the items as /batch requests of 1,000 from ``clients`` threads."""
    parts = urlsplit(url)
    bodies = [json.dumps({"items": items[i : i + 1000], "as_published": True}, default=str)
              for i in range(0, len(items), 1000)]  # fmt: skip
    lock = threading.Lock()
    failures: list[str] = []

    def client() -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)
        while True:
            with lock:
                if not bodies:
                    return
                body = bodies.pop()
            connection.request("POST", "/api/v1/batch", body, {
                "Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})  # fmt: skip
            answer = connection.getresponse()
            text = answer.read()
            if answer.status not in (200, 201):
                failures.append(f"{answer.status}: {text[:300]!r}")

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"/batch refused: {failures[0]}")
    return time.perf_counter() - started


def monitor(args: argparse.Namespace, base: Path) -> None:
    """The monitor's sheet: the floor, the import, the rebuild, and /batch over HTTP."""
    sheet = base / "monitor.csv"
    monitor_sheet(sheet, args.rows)
    items = parsed_items(sheet)
    with deployment(args.backend) as settings:
        bare = floor(settings, items)
    print(f"{args.rows} rows, {args.backend}")
    print(f"floor (eventsourcing, 2 events a row): {rate(args.rows, bare):8.0f} rows/s "
          f"({bare:.1f} s)")  # fmt: skip
    with deployment(args.backend) as settings:
        env = env_of(settings)
        local, peak = cli(env, "import", "csv", str(sheet), "--mapping", str(MAPPING),
                          "--no-catch-up", profile=args.profile)  # fmt: skip
        print(f"timeline import csv (local):          {rate(args.rows, local):8.0f} rows/s "
              f"({local:.1f} s)  ratio {bare / local:.2f} (target >= 0.5); "
              f"peak RSS {peak:.0f} MB")  # fmt: skip
        events, decode = read_all(settings)
        rebuilt, _ = cli(env, "rebuild")
        print(f"read + decode of the log:             {rate(events, decode):8.0f} events/s "
              f"({events} events, {decode:.1f} s)")  # fmt: skip
        print(f"timeline rebuild (every read model):  {rate(events, rebuilt):8.0f} events/s "
              f"({rebuilt:.1f} s)  ratio {decode / rebuilt:.2f} (target >= 0.5)")  # fmt: skip
    if args.http:
        with (
            deployment(args.backend) as settings,
            served(settings, "--web-workers", "2") as url,
        ):
            sent = post_batches(url, items)
        print(f"/batch over HTTP, 4 clients:          {rate(args.rows, sent):8.0f} rows/s "
              f"({sent:.1f} s)  ratio {bare / sent:.2f} (target >= 0.3)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--http", action="store_true", help="also /batch over HTTP, 4 clients")
    parser.add_argument("--ucdp", type=int, default=0, help="also a UCDP release of N rows")
    parser.add_argument("--profile", help="write a cProfile of the import here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="timeline-bulk-") as tmp:
        base = Path(tmp)
        if args.rows:
            monitor(args, base)
        if args.ucdp:
            peaks = {}
            for rows in (args.ucdp // 10, args.ucdp):
                release = base / f"ged-{rows}.csv"
                ucdp_release(release, rows)
                with deployment(args.backend) as settings:
                    seconds, peaks[rows] = cli(env_of(settings), "import", "ucdp-ged",
                                               str(release))  # fmt: skip
                print(f"UCDP release of {rows} rows, imported and caught up: {seconds:.1f} s "
                      f"({rate(rows, seconds):.0f} rows/s; target < 90 s at 300k); "
                      f"peak RSS {peaks[rows]:.0f} MB")  # fmt: skip
            small, large = peaks[args.ucdp // 10], peaks[args.ucdp]
            print(
                f"peak RSS at {args.ucdp} rows / at {args.ucdp // 10}: {large / small:.2f} "
                "(target <= 1.2)"
            )


if __name__ == "__main__":
    main()

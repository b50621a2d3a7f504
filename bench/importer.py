"""Import: `timeline import acled` of a generated file, beside raw batched inserts of its rows.

    python bench/importer.py [--rows 100000] [--remote] [--releases]

Generates an ACLED-layout CSV of ``--rows`` rows (31 columns, like the test fixtures), then in
the same run: the baseline — the same rows inserted raw into a SQLite table of 31 text columns,
1,000 a transaction (what any loader must at least do) — and the import through the CLI as a
user runs it (a child process: check pass, upsert pass, fresh SQLite deployment; without the
read models' catch-up at the end, which workers do, timed apart in bench/catchup.py). ``--remote``
also imports through a served API's /batch (`timeline serve`, --url); ``--releases`` imports the
file as two whole releases (``--stated-at … --retire-missing``). Prints rows/s and the
ratio to the baseline (target >= 0.25), and the import's peak memory.
"""

from __future__ import annotations

import argparse
import csv
import os
import sqlite3
import tempfile
import time
from pathlib import Path

from common import KEY, REDIS_URL, clean_env, cli, rate, served

from timeline.config import Settings

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "acled" / "current.csv"


def generate(path: Path, rows: int) -> list[str]:
    """``rows`` rows shaped like the fixture's (ids, dates and places varied)."""
    with FIXTURE.open(newline="") as f:
        reader = csv.DictReader(f)
        columns = list(reader.fieldnames or [])
        templates = [r for r in reader if r["event_date"] and r["latitude"] != "north"
                     and r["longitude"]]  # fmt: skip
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        for n in range(rows):
            row = dict(templates[n % len(templates)])
            row["event_id_cnty"] = f"CAF{n}"
            row["event_date"] = f"{2010 + n // 3650}-{1 + n // 300 % 12:02d}-{1 + n % 28:02d}"
            row["notes"] = f"{row['notes'][:200]} (event {n})"
            writer.writerow(row)
    return columns


def raw_inserts(path: Path, columns: list[str], database: Path) -> float:
    """Seconds to insert every row raw, 1,000 a transaction."""
    started = time.perf_counter()
    db = sqlite3.connect(database)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"CREATE TABLE rows ({', '.join(f'{c} TEXT' for c in columns)})")
    insert = f"INSERT INTO rows VALUES ({', '.join('?' for _ in columns)})"
    with path.open(newline="") as f:
        reader = csv.reader(f)
        next(reader)
        chunk: list[list[str]] = []
        for row in reader:
            chunk.append(row)
            if len(chunk) == 1000:
                with db:
                    db.executemany(insert, chunk)
                chunk = []
        with db:
            db.executemany(insert, chunk)
    db.close()
    return time.perf_counter() - started


def cli_import(path: Path, env: dict[str, str], *more: str) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of `timeline import acled PATH` as a child process."""
    return cli(env, "import", "acled", str(path), "--no-catch-up", *more)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--remote", action="store_true", help="also import through /batch")
    parser.add_argument(
        "--releases", action="store_true", help="also import it as two whole releases"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="timeline-import-") as tmp:
        base = Path(tmp)
        data = base / "acled.csv"
        columns = generate(data, args.rows)
        raw = raw_inserts(data, columns, base / "raw.sqlite3")
        env = clean_env(data_dir=str(base / "local"), redis_url=REDIS_URL,
                        queue=f"bench-{os.getpid()}")  # fmt: skip
        local, peak = cli_import(data, env)
        again, _ = cli_import(data, env)
        print(f"{args.rows} rows ({data.stat().st_size / 1e6:.0f} MB), SQLite")
        print(f"raw batched inserts:     {rate(args.rows, raw):9.0f} rows/s ({raw:.1f} s)")
        print(f"timeline import (local): {rate(args.rows, local):9.0f} rows/s ({local:.1f} s)  "
              f"ratio {raw / local:.3f} (target >= 0.25); peak RSS {peak:.0f} MB")  # fmt: skip
        print(f"  again (writes nothing): {rate(args.rows, again):8.0f} rows/s ({again:.1f} s)")
        if args.releases:
            # Two releases of the same rows: each row gets a version dated by its release, and
            # recording each release checks every incident of the namespace at every release.
            env = clean_env(data_dir=str(base / "releases"), redis_url=REDIS_URL,
                            queue=f"bench-rel-{os.getpid()}")  # fmt: skip
            first, _ = cli_import(data, env, "--stated-at", "2024-01-01T00:00:00Z",
                                  "--retire-missing")  # fmt: skip
            second, _ = cli_import(data, env, "--stated-at", "2024-02-01T00:00:00Z",
                                   "--retire-missing")  # fmt: skip
            print(f"as a first release:      {rate(args.rows, first):9.0f} rows/s ({first:.1f} s)  "
                  f"ratio {raw / first:.3f}")  # fmt: skip
            print(f"as a second release:     {rate(args.rows, second):9.0f} rows/s "
                  f"({second:.1f} s)  ratio {raw / second:.3f}")  # fmt: skip
        if args.remote:
            settings = Settings(
                data_dir=base / "remote" / "var",
                redis_url=REDIS_URL,
                api_keys={KEY: "write"},
                queue_name=f"bench-r-{os.getpid()}",
            )
            with served(settings, "--web-workers", "2") as url:
                remote, _ = cli_import(data, clean_env(), "--url", url.removesuffix("/api/v1"),
                                       "--key", KEY)  # fmt: skip
            print(f"timeline import --url:   {rate(args.rows, remote):9.0f} rows/s "
                  f"({remote:.1f} s)  ratio {raw / remote:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()

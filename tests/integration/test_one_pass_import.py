"""One pass over the file: problems collected while the rows stream into chunks, whether they
are the reader's (a column it cannot read) or the domain's (the writer's refusals, named under
the dataset's own column); `--on-error stop` stops writing at the first refused row's chunk
but still reports every problem; `--dry-run` writes nothing; the bar follows the bytes."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli import main
from tests.integration.test_hostile_files import acled_row, acled_text
from timeline.bootstrap import Services
from timeline.importing import files


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["import", *args], catch_exceptions=False)


def ten_rows_two_bad(path: Path) -> None:
    """Rows 1 to 10; row 5's date cannot be read (the reader's problem), row 8's latitude is
    beyond 90 (the domain's)."""
    rows = [acled_row(n) for n in range(10)]
    rows[4]["event_date"] = "someday"
    rows[7] |= {"latitude": "123.0", "longitude": "37.0"}
    path.write_text(acled_text(rows))


def report_of(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="") as f:
        return [(row["row"], row["column"]) for row in csv.DictReader(f)]


def test_stop_writes_the_chunks_before_the_first_bad_row_and_reports_every_problem(
    store: Services, tmp_path: Path
) -> None:
    ten_rows_two_bad(tmp_path / "a.csv")
    stopped = run("acled", "a.csv", "--chunk", "2")
    assert stopped.exit_code == 1, stopped.output
    assert "stopped at row 5: the 4 row(s) before its chunk went in" in stopped.output
    assert report_of(tmp_path / "a.csv.problems.csv") == [("5", "event_date"), ("8", "latitude")]
    assert store.app.head() == 4 * 3  # rows 1 to 4: each report, its id's claim, its statement
    # Fixed, it runs again and writes only what is missing.
    ten_rows_two_bad(tmp_path / "a.csv")
    skipped = run("acled", "a.csv", "--chunk", "2", "--on-error", "skip")
    assert skipped.exit_code == 3, skipped.output
    assert "imported 8 of 10 row(s): 4 reported, 4 unchanged" in skipped.output


def test_a_bad_row_in_the_first_chunk_writes_nothing(store: Services, tmp_path: Path) -> None:
    ten_rows_two_bad(tmp_path / "a.csv")
    stopped = run("acled", "a.csv")  # one chunk of 1,000 holds every row
    assert stopped.exit_code == 1 and "nothing imported" in stopped.output, stopped.output
    assert report_of(tmp_path / "a.csv.problems.csv") == [("5", "event_date"), ("8", "latitude")]
    assert store.app.head() == 0


def test_a_dry_run_checks_every_row_and_writes_nothing(store: Services, tmp_path: Path) -> None:
    ten_rows_two_bad(tmp_path / "a.csv")
    checked = run("acled", "a.csv", "--dry-run", "--chunk", "3")
    assert checked.exit_code == 1, checked.output
    assert "checked 10 row(s), nothing written: 2 row(s) would be refused" in checked.output
    assert report_of(tmp_path / "a.csv.problems.csv") == [("5", "event_date"), ("8", "latitude")]
    (tmp_path / "b.csv").write_text(acled_text([acled_row(n) for n in range(4)]))
    clean = run("acled", "b.csv", "--dry-run")
    assert clean.exit_code == 0 and "every row would go in" in clean.output, clean.output
    assert store.app.head() == 0


@pytest.mark.parametrize("zipped", [False, True])
def test_the_bar_follows_the_bytes_of_the_file_as_stored(tmp_path: Path, zipped: bool) -> None:
    text = acled_text([acled_row(n) for n in range(2000)]).encode()
    path = tmp_path / ("a.csv.gz" if zipped else "a.csv")
    path.write_bytes(gzip.compress(text) if zipped else text)
    seen: list[int] = []
    with files.watching(seen.append):
        _, rows = files.csv_rows(path)
        assert sum(1 for _ in rows) == 2000
    assert seen == sorted(seen) and len(seen) > 1
    assert seen[-1] == path.stat().st_size

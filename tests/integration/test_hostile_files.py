"""Awkward and hostile files through every reader: a clear answer (row, byte, column), never a
traceback. Every file here is written by the test itself."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli import main
from timeline.bootstrap import Services
from timeline.importing.acled import CURRENT_LAYOUT

ACLED_HEADER = list(CURRENT_LAYOUT)
MONITOR_MAPPING = """namespace = "mon"
id = "id"
title = "{type}: {town}"
date = "date"
kind = { column = "type", default = "other", map = { Shelling = "shelling" } }
[place]
name = "town"
admin1 = "oblast"
country = "country"
[source]
name = "A monitor"
side = "independent"
type = "ngo"
text = "note"
"""


def acled_row(n: int, **columns: str) -> dict[str, str]:
    """A plain ACLED row of its current layout."""
    row = dict.fromkeys(ACLED_HEADER, "")
    row |= {"event_id_cnty": f"UKR{n}", "event_date": f"2023-01-0{n % 9 + 1}",
            "event_type": "Battles", "sub_event_type": "Armed clash", "iso": "804",
            "country": "Ukraine", "location": "Bakhmut", "notes": f"Clash near Bakhmut ({n}).",
            "fatalities": "0"}  # fmt: skip
    return row | columns


def acled_text(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, ACLED_HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def ndjson_text(count: int) -> str:
    lines = []
    for n in range(count):
        lines.append(json.dumps({"title": f"Shelling of Kherson ({n})", "kind": "shelling",
                                 "occurred": {"start": f"2023-01-0{n + 1}"},
                                 "location": {"name": "Kherson", "country": "UA"},
                                 "external_ids": {"mon": str(n)}, "statements": []},
                                ensure_ascii=False))  # fmt: skip
    return "\n".join(lines) + "\n"


def geojson_text(count: int) -> str:
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [37.8, 48.6]},
                 "properties": {"id": 900 + n, "type_of_violence": 1, "best": 2, "low": 1,
                                "high": 3, "date_start": "2023-01-02 00:00:00.000",
                                "date_end": "2023-01-02 00:00:00.000", "country": "Ukraine",
                                "where_coordinates": "Bakhmut town",
                                "dyad_name": "Kyiv\u2013Moscow"}}
                for n in range(count)]  # fmt: skip
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)


# FORMAT, a file name, a writer of its text (n good rows), extra arguments
READERS: dict[str, tuple[str, str, Callable[[int], str], tuple[str, ...]]] = {
    "acled": ("acled", "a.csv", lambda n: acled_text([acled_row(i) for i in range(n)]), ()),
    "ucdp-ged geojson": ("ucdp-ged", "g.geojson", geojson_text, ()),
    "ndjson": ("ndjson", "e.ndjson", ndjson_text, ()),
    "csv": ("csv", "m.csv", lambda n: "id,date,type,town,oblast,country,note\n" + "".join(
        f"M{i},2023-01-0{i + 1},Shelling,Kherson,Kherson Oblast,Ukraine,Café hit ({i}).\n"
        for i in range(n)), ("--mapping", "mapping.toml")),
}  # fmt: skip


def run(tmp_path: Path, *args: str) -> Result:
    """`timeline import ARGS` in ``tmp_path`` (where the problems report goes)."""
    (tmp_path / "mapping.toml").write_text(MONITOR_MAPPING)
    return CliRunner().invoke(main, ["import", *args], catch_exceptions=False)


@pytest.mark.parametrize("reader", list(READERS))
def test_a_bom_and_gzip_are_read_as_they_are(store: Services, tmp_path: Path, reader: str) -> None:
    data_format, name, text, more = READERS[reader]
    bom = tmp_path / name
    bom.write_bytes(b"\xef\xbb\xbf" + text(3).encode())
    result = run(tmp_path, data_format, str(bom), *more)
    assert result.exit_code == 0, result.output
    assert "imported 3 row(s): 3 reported" in result.output
    zipped = tmp_path / (name + ".gz")
    zipped.write_bytes(gzip.compress(text(3).encode()))
    again = run(tmp_path, data_format, str(zipped), *more)
    assert again.exit_code == 0 and "3 unchanged" in again.output, again.output


@pytest.mark.parametrize("reader", list(READERS))
def test_undecodable_bytes_name_the_byte_and_the_encoding_to_try(
    store: Services, tmp_path: Path, reader: str
) -> None:
    data_format, name, text, more = READERS[reader]
    latin = tmp_path / name
    accented = text(3).replace("Kherson", "Kh\u00e9rson").replace("Bakhmut", "B\u00e4khmut")
    latin.write_bytes(accented.replace("\u2013", "-").encode("latin-1"))
    result = run(tmp_path, data_format, str(latin), *more, "--on-error", "skip")
    assert result.exit_code == 1, result.output
    (line,) = [line for line in result.output.splitlines() if line.startswith("refused")]
    assert "is not utf-8 text" in line and "--encoding cp1252" in line and "byte " in line
    assert "Traceback" not in result.output and store.app.head() == 0
    decoded = run(tmp_path, data_format, str(latin), *more, "--encoding", "latin-1")
    assert decoded.exit_code == 0 and "3 reported" in decoded.output, decoded.output


def test_a_field_over_the_limit_and_ragged_rows_are_row_problems(
    store: Services, tmp_path: Path
) -> None:
    text = acled_text([acled_row(n) for n in range(5)]).splitlines(keepends=True)
    huge = acled_row(5, notes="x" * (1024 * 1024 + 1))
    text.insert(2, acled_text([huge]).splitlines(keepends=True)[1])  # row 2
    text[4] = text[4].rstrip("\n").rsplit(",", 3)[0] + "\n"  # row 4: three fields short
    text[5] = text[5].rstrip("\n") + ",extra,more\n"  # row 5: two fields more
    path = tmp_path / "a.csv"
    path.write_text("".join(text))
    stopped = run(tmp_path, "acled", str(path))
    assert stopped.exit_code == 1 and "nothing imported" in stopped.output
    report = list(csv.DictReader((tmp_path / "a.csv.problems.csv").open()))
    assert [(r["row"], r["column"]) for r in report] == [
        ("2", "(row)"), ("4", "fatalities"), ("5", "(row)")
    ]  # fmt: skip
    assert "field larger than field limit" in report[0]["reason"]
    assert "fewer than the header" in report[1]["reason"]
    assert "more than the header" in report[2]["reason"]
    skipped = run(tmp_path, "acled", str(path), "--on-error", "skip")
    assert skipped.exit_code == 3, skipped.output
    assert "imported 3 of 6 row(s): 3 reported" in skipped.output
    assert "3 refused row(s) left out" in skipped.output


@pytest.mark.parametrize(
    ("header", "said"),
    [("id,date,type,town,town,oblast,country,note", "names 'town' twice"),
     ("id,date,type,town,,oblast,country,note", "column(s) 5 of the header have no name")],
)  # fmt: skip
def test_a_header_with_duplicate_or_empty_names_is_refused(
    store: Services, tmp_path: Path, header: str, said: str
) -> None:
    path = tmp_path / "m.csv"
    path.write_text(header + "\nM1,2023-01-01,Shelling,Kherson,Kherson,KO,Ukraine,x\n")
    result = run(tmp_path, "csv", str(path), "--mapping", "mapping.toml")
    assert result.exit_code == 1 and said in result.output, result.output


@pytest.mark.parametrize("where", ["missing.csv", ".", "/dev/null"])
def test_what_is_not_a_file_is_one_line_and_exit_2(
    store: Services, tmp_path: Path, where: str
) -> None:
    result = run(tmp_path, "acled", where)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if "Error" in line]) == 1


def test_every_row_refused_under_skip_is_nothing_imported(store: Services, tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(acled_text([acled_row(n, event_date="") for n in range(3)]))
    result = run(tmp_path, "acled", str(path), "--on-error", "skip")
    assert result.exit_code == 1 and "nothing imported" in result.output, result.output
    assert "imported 3" not in result.output and store.app.head() == 0


def test_a_ucdp_date_that_is_no_time_of_day_is_refused_and_a_future_one_flagged(
    store: Services, tmp_path: Path
) -> None:
    features = json.loads(geojson_text(2))
    features["features"][0]["properties"]["date_start"] = "2022-03-01T25:00:00Z"
    features["features"][1]["properties"]["date_start"] = "9999-01-01 00:00:00.000"
    features["features"][1]["properties"]["date_end"] = "9999-01-01 00:00:00.000"
    path = tmp_path / "g.geojson"
    path.write_text(json.dumps(features))
    result = run(tmp_path, "ucdp-ged", str(path), "--on-error", "skip")
    assert result.exit_code == 3, result.output
    report = list(csv.DictReader((tmp_path / "g.geojson.problems.csv").open()))
    assert [(r["row"], r["column"]) for r in report] == [("1", "date_start")]
    assert "1 flagged row(s)" in result.output and "occurred_in_future" in result.output

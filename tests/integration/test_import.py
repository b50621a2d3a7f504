"""`timeline import` on the test fixtures (invented, in each dataset's real column layout, with
the awkward rows real exports have), and the NDJSON export read back in."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any
from uuid import UUID

from click.testing import CliRunner, Result
from flask.testing import FlaskClient

from api import create_app
from cli import main
from tests.datasets import FIXTURES
from tests.factories import a_statement, an_incident
from timeline import exports
from timeline.bootstrap import Services, build
from timeline.config import Settings
from timeline.domain.values import COMMON_METRICS
from timeline.importing import mapped
from timeline.read_models import TimelineFilter

ACLED = FIXTURES / "acled" / "current.csv"
ACLED_OLD = FIXTURES / "acled" / "pre2023.csv"
GED_CSV = FIXTURES / "ucdp_ged" / "ged.csv"
GED_GEOJSON = FIXTURES / "ucdp_ged" / "ged.geojson"


PARTIAL = 3  # the good rows went in, some were refused (--on-error skip)


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["import", *map(str, args)], catch_exceptions=False)


def problems(report: Path) -> list[tuple[int, str]]:
    with report.open(newline="") as f:
        return [(int(row["row"]), row["column"]) for row in csv.DictReader(f)]


def test_every_bad_row_is_reported_and_nothing_is_written(
    cli_env: Settings, services: Services, tmp_path: Path
) -> None:
    report = tmp_path / "report.csv"
    result = run("acled", ACLED, "--report", report)
    assert result.exit_code == 1, result.output
    assert "3 problem(s)" in result.output and "nothing imported" in result.output
    assert problems(report) == [(8, "event_date"), (12, "latitude"), (14, "longitude")]
    assert services.app.head() == 0


def test_skip_imports_the_good_rows_once_and_again_writes_nothing(
    cli_env: Settings, services: Services, tmp_path: Path
) -> None:
    result = run("acled", ACLED, "--on-error", "skip", "--report", tmp_path / "r.csv")
    assert result.exit_code == PARTIAL, result.output
    # 30 rows: 3 bad; row 18 repeats row 17's id (and content): 26 incidents
    assert "26 reported" in result.output and "1 repeated" in result.output
    head = services.app.head()
    assert head == 26 * 3  # each report, its id claim, its statement
    again = run("acled", ACLED, "--on-error", "skip", "--report", tmp_path / "r.csv")
    assert again.exit_code == PARTIAL and "27 unchanged" in again.output
    assert services.app.head() == head
    services.runner.run_all()
    incident_id = services.app.incident_by_external_id("acled", "CAF2003")
    assert incident_id is not None
    incident = services.app.get_incident(UUID(incident_id))
    assert incident["properties"]["disorder_type"] == "Demonstrations"
    (statement,) = incident["statements"]
    assert statement["source"]["name"] == "ACLED" and len(statement["text"]) > 3000
    assert 'with commas, "quotes" and a line break\nin it' in statement["text"]
    assert statement["figures"] == [
        {"metric": "killed", "value": 3, "low": None, "high": None, "qualifier": "about",
         "subject": None}
    ]  # fmt: skip


def test_the_layout_before_2023(cli_env: Settings, services: Services, tmp_path: Path) -> None:
    result = run("acled", ACLED_OLD, "--on-error", "skip", "--report", tmp_path / "r.csv")
    assert result.exit_code == PARTIAL, result.output
    assert problems(tmp_path / "r.csv") == [(5, "event_date")]
    assert "11 reported" in result.output
    incident_id = services.app.incident_by_external_id("acled", "CAF2100")
    incident = services.app.get_incident(UUID(str(incident_id)))
    assert incident["occurred"]["start"].startswith("2022-05-20")
    assert incident["properties"]["iso3"] == "CAF"


def test_ged_as_csv_and_as_geojson_are_the_same_events(
    cli_env: Settings, services: Services, tmp_path: Path
) -> None:
    result = run("ucdp-ged", GED_CSV, "--on-error", "skip", "--report", tmp_path / "r.csv")
    assert result.exit_code == PARTIAL, result.output
    # Refused: what cannot be stored (no date, a citation over the size limit, no number)
    assert problems(tmp_path / "r.csv") == [(7, "date_start"), (9, "source_article"), (15, "best")]
    # Stored as UCDP published them, flagged: a low above the high, an end before the start
    assert "2 flagged row(s)" in result.output
    assert "1 low_above_high" in result.output and "1 end_before_start" in result.output
    ranged = services.app.get_incident(UUID(str(services.app.incident_by_external_id(
        "ucdp-ged", "256002"))))  # fmt: skip
    (said,) = ranged["statements"]
    assert [(f["code"], f["field"]) for f in said["flags"]] == [("low_above_high", "figures.0.low")]
    assert (said["figures"][0]["low"], said["figures"][0]["high"]) == (11, 9)
    ended = services.app.get_incident(UUID(str(services.app.incident_by_external_id(
        "ucdp-ged", "256004"))))  # fmt: skip
    assert [f["code"] for f in ended["flags"]] == ["end_before_start"]
    flagged = CliRunner().invoke(main, ["export", "--format", "csv", "--flagged"],
                                 catch_exceptions=False)  # fmt: skip
    rows = list(csv.DictReader(flagged.stdout.splitlines(keepends=True)))
    assert sorted(r["flags"] for r in rows) == ["end_before_start", "low_above_high"]
    head = services.app.head()
    geojson = run("ucdp-ged", GED_GEOJSON, "--on-error", "skip", "--report", tmp_path / "g.csv")
    assert geojson.exit_code == PARTIAL, geojson.output
    assert services.app.head() == head  # the same events: nothing new
    incident_id = services.app.incident_by_external_id("ucdp-ged", "256005")
    incident = services.app.get_incident(UUID(str(incident_id)))
    assert incident["kind"] == "violence_against_civilians"
    assert incident["location"]["precision"] == "country"  # where_prec 6 (README)
    killed = incident["statements"][0]["figures"]
    assert killed[0]["subject"] is None and {f["subject"] for f in killed[1:]} >= {"civilians"}
    # one total a statement, however many parties (one-sided violence has no side_b)
    for each in services.reads.export_incidents(TimelineFilter(namespace="ucdp-ged")):
        (said,) = each["statements"]
        assert [f["subject"] for f in said["figures"]].count(None) == 1, each["external_ids"]


def test_a_newer_release_writes_only_changes_and_retires_the_missing(
    cli_env: Settings, services: Services, tmp_path: Path
) -> None:
    first = run("acled", ACLED, "--on-error", "skip", "--report", tmp_path / "r.csv",
                "--stated-at", "2022-12-01T00:00:00Z")  # fmt: skip
    assert first.exit_code == PARTIAL, first.output
    with ACLED.open(newline="") as f:
        rows = list(csv.DictReader(f))
    newer = tmp_path / "newer.csv"
    with newer.open("w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        kept = rows[:6]
        kept[0] = {**kept[0], "location": "Bangui (PK5)"}
        kept[1] = {**kept[1], "fatalities": "7"}  # only the dataset's statement changes
        writer.writerows(kept)
    result = run("acled", newer, "--retire-missing", "--stated-at", "2023-01-01T00:00:00Z")
    assert result.exit_code == 0, result.output
    assert "1 amended" in result.output and "1 restated" in result.output
    assert "4 listed" in result.output  # unchanged, dated by the release that lists them
    assert "6 id(s) listed, recorded; 20 retired" in result.output  # 26 imported, 6 listed again
    services.runner.run_all()
    assert services.reads.external_ids("acled") == {r["event_id_cnty"] for r in kept}


def import_both(services: Services, tmp_path: Path) -> None:
    """The ACLED and the GED fixtures, bad rows left out, read models caught up."""
    for data_format, path in (("acled", ACLED), ("ucdp-ged", GED_CSV)):
        result = run(data_format, path, "--on-error", "skip", "--report", tmp_path / "r.csv")
        assert result.exit_code == PARTIAL, result.output
    services.runner.run_all()


def client_of(services: Services) -> FlaskClient:
    return create_app(services=services).test_client()


def test_an_ndjson_export_reads_back_in_unchanged(
    cli_env: Settings, services: Services, tmp_path: Path
) -> None:
    import_both(services, tmp_path)
    client = client_of(services)
    answer = client.get("/api/v1/incidents?format=ndjson")
    assert answer.status_code == 200 and answer.mimetype == "application/x-ndjson"
    exported = tmp_path / "export.ndjson"
    exported.write_bytes(answer.data)
    assert len(answer.data.splitlines()) == 26 + 22  # GED: 26 rows, 3 bad, one id twice
    head = services.app.head()
    again = run("ndjson", exported)
    assert again.exit_code == 0 and "48 unchanged" in again.output, again.output
    assert services.app.head() == head
    # Into another, empty deployment: the same export comes back out, byte for byte.
    if services.settings.database_url is not None:
        return  # (a second, empty store: the SQLite run does it)
    other_dir = tmp_path / "other"
    other = build(services.settings.with_changes(data_dir=other_dir))
    try:
        items = [item for item in map(_item, answer.data.splitlines())]
        written = other.app.apply_batch(items, as_published=True)
        assert len(written) == 48
        other.runner.run_all()
        assert client_of(other).get("/api/v1/incidents?format=ndjson").data == answer.data
    finally:
        other.close()
        shutil.rmtree(other_dir, ignore_errors=True)


def _item(line: bytes) -> dict[str, Any]:
    from timeline.importing.ndjson import parse

    parsed = parse(1, json.loads(line), None)
    assert parsed.item is not None
    return parsed.item


def test_csv_and_geojson_exports_and_the_analyst_filters(
    cli_env: Settings, services: Services, tmp_path: Path
) -> None:
    import_both(services, tmp_path)
    client = client_of(services)
    position = str(services.reads.position("timeline"))

    table = client.get("/api/v1/incidents", query_string={"namespace": "ucdp-ged"},
                       headers={"Accept": "text/csv"})  # fmt: skip
    assert table.content_type == "text/csv; charset=utf-8"
    assert table.headers["X-Projection-Position"] == position
    rows = list(csv.DictReader(table.data.decode().splitlines(keepends=True)))
    assert len(rows) == 22 and all(r["external_ids"].startswith("ucdp-ged:") for r in rows)
    assert sorted(r["flags"] for r in rows if r["flags"]) == ["end_before_start", "low_above_high"]
    clash = next(r for r in rows if r["external_ids"] == "ucdp-ged:256001")
    # best 1+1+0+1 = 3 deaths, low 2, high 6 (the parties' own counts are not the total)
    assert (clash["killed_low"], clash["killed_best"], clash["killed_high"]) == ("2", "3", "6")
    assert clash["killed_claimed_by"] == "UCDP GED"

    answer = client.get("/api/v1/incidents?format=geojson&actor=UPC")
    collection = json.loads(answer.data)
    assert answer.content_type == "application/geo+json"
    assert collection["type"] == "FeatureCollection" and collection["features"]
    for feature in collection["features"]:
        assert feature["geometry"]["type"] == "Point"
        names = {a["name"] for a in feature["properties"]["actors"]}
        assert "UPC" in names

    def count(**query: str) -> int:
        page = client.get("/api/v1/incidents", query_string={"limit": "1000", **query}).json
        return len(page["items"])

    assert count() == 48
    assert count(namespace="acled") == 26
    assert count(flagged="true") == 2
    assert count(country="central african republic") == 48  # case does not matter
    assert count(admin1="Bangui") == 8  # ACLED rows 0, 4, …, 28 (none of them bad)
    assert count(tag="crowd size=around 200") == 0  # ACLED's tags stay in properties
    assert count(metric="killed") == 48 - 1  # one ACLED row gives no fatalities
    assert count(actor="UPC") < count(namespace="ucdp-ged")
    # text search reads place names: Bossangoa is in Ouham (ACLED) / Ouham prefecture (GED)
    assert count(q="bossangoa") == count(admin1="Ouham") + count(admin1="Ouham prefecture") > 0


def test_the_csv_has_figure_columns_for_every_metric_given(services: Services) -> None:
    app = services.app
    downed = {"metric": "drones_downed", "value": 40, "low": 38, "high": 45}
    app.apply_batch([
        {**an_incident(title="Night raid"), "statements": [a_statement(figures=[downed])]},
        {**an_incident(title="Shelling"), "statements": [a_statement()]},
    ])  # fmt: skip
    services.runner.run_all()

    answer = client_of(services).get("/api/v1/incidents?format=csv")

    rows = {r["title"]: r for r in csv.DictReader(answer.data.decode().splitlines(True))}
    columns = list(rows["Night raid"])
    metrics = [c.removesuffix("_best") for c in columns if c.endswith("_best")]
    assert metrics == [*COMMON_METRICS, "drones_downed"]  # the common ones first, then others
    assert columns[-1] == "properties"
    raid, shelling = rows["Night raid"], rows["Shelling"]
    assert [raid[f"drones_downed_{p}"] for p in ("low", "best", "high")] == ["38", "40", "45"]
    assert raid["drones_downed_claimed_by"] == "Russian Ministry of Defence"
    assert raid["killed_best"] == "" and shelling["drones_downed_best"] == ""
    assert shelling["killed_best"] == "600"


def test_the_export_command_writes_what_the_api_streams(
    cli_env: Settings, services: Services, tmp_path: Path
) -> None:
    result = run("ucdp-ged", GED_GEOJSON, "--on-error", "skip", "--report", tmp_path / "r.csv")
    assert result.exit_code == PARTIAL, (
        result.output
    )  # (the import also catches the read models up)
    client = client_of(services)
    for data_format in ("ndjson", "csv", "geojson"):
        output = tmp_path / f"out.{data_format}"
        exported = CliRunner().invoke(
            main, ["export", "--format", data_format, "-o", str(output), "--country",
                   "Central African Republic"], catch_exceptions=False,
        )  # fmt: skip
        assert exported.exit_code == 0, exported.output
        streamed = client.get(f"/api/v1/incidents?format={data_format}")
        assert output.read_bytes() == streamed.data
    empty = CliRunner().invoke(main, ["export", "--country", "Chad"], catch_exceptions=False)
    assert empty.exit_code == 0 and empty.stdout_bytes == b""
    dash = CliRunner().invoke(main, ["export", "--format", "csv", "-o", "-"],
                              catch_exceptions=False)  # fmt: skip
    assert dash.exit_code == 0 and dash.stdout_bytes.startswith(b"id,title,")
    assert not Path("-").exists()


def test_the_acled_layout_export_gives_back_the_rows_imported(
    cli_env: Settings, services: Services, tmp_path: Path
) -> None:
    result = run("acled", ACLED, "--on-error", "skip", "--report", tmp_path / "r.csv")
    assert result.exit_code == PARTIAL, result.output
    answer = client_of(services).get("/api/v1/incidents?format=acled-csv&namespace=acled")
    assert answer.content_type == "text/csv; charset=utf-8"
    exported = {
        r["event_id_cnty"]: r for r in csv.DictReader(answer.data.decode().splitlines(True))
    }
    with ACLED.open(newline="") as f:
        rows = [r for n, r in enumerate(csv.DictReader(f), start=1) if n not in (8, 12, 14)]
    assert len(exported) == len({r["event_id_cnty"] for r in rows}) == 26
    for row in rows:  # (texts are kept without their surrounding spaces)
        assert exported[row["event_id_cnty"]] == {**row, "notes": row["notes"].strip()}


def test_any_csv_with_a_mapping_file(cli_env: Settings, services: Services, tmp_path: Path) -> None:
    data, mapping = FIXTURES / "mapped" / "events.csv", FIXTURES / "mapped" / "cir.toml"
    report = tmp_path / "r.csv"
    refused = run("csv", data, "--mapping", mapping, "--report", report)
    assert refused.exit_code == 1
    assert problems(report) == [(4, "date")]  # the rest is stored as published, flagged
    result = run("csv", data, "--mapping", mapping, "--on-error", "skip", "--report", report)
    assert result.exit_code == PARTIAL, result.output
    assert "6 reported" in result.output and "1 repeated" in result.output
    assert "3 flagged row(s)" in result.output

    def flags(external_id: str) -> list[str]:
        found = services.app.get_incident(
            UUID(str(services.app.incident_by_external_id("cir", external_id)))
        )
        return [f["code"] for f in found["flags"] + found["statements"][0]["flags"]]

    assert flags("CIR-0005") == ["end_before_start"]
    assert flags("CIR-0006") == ["unmapped_category"]
    assert flags("CIR-0007") == ["best_outside_range"]
    assert flags("CIR-0001") == []
    mariupol = services.app.get_incident(
        UUID(str(services.app.incident_by_external_id("cir", "CIR-0003")))
    )
    assert mariupol["title"] == "Shelling: Mariupol" and mariupol["kind"] == "shelling"
    assert mariupol["occurred"]["precision"] == "month"
    assert mariupol["properties"] == {"munitions": "artillery", "violence_level": "5"}
    (said,) = mariupol["statements"]
    assert said["citations"][0]["reference"] == "Telegram channel, since deleted"
    assert said["figures"][0] | {"qualifier": "exact"} == {
        "metric": "killed", "value": 12, "low": 8, "high": None, "qualifier": "exact",
        "subject": None,
    }  # fmt: skip
    odesa = services.app.get_incident(
        UUID(str(services.app.incident_by_external_id("cir", "CIR-0006")))
    )
    assert odesa["kind"] == "other"  # not in the map: its default, and the raw value kept
    assert odesa["properties"]["type"] == "Unknown thing"
    no_mapping = run("csv", data)
    assert no_mapping.exit_code == 2 and "--mapping" in no_mapping.output
    broken = tmp_path / "broken.toml"
    broken.write_text('namespace = "CIR"\nid = "id"\ntitle = "x"\ndate = "date"\n[source]\n')
    bad = run("csv", data, "--mapping", broken)
    assert bad.exit_code == 2 and "namespace" in bad.output


def test_the_timeline_and_claims_stream_too(
    cli_env: Settings, services: Services, tmp_path: Path
) -> None:
    result = run("ucdp-ged", GED_CSV, "--on-error", "skip", "--report", tmp_path / "r.csv")
    assert result.exit_code == PARTIAL, result.output
    client = client_of(services)
    items = client.get("/api/v1/timeline?format=csv&type=statement")
    rows = list(csv.DictReader(items.data.decode().splitlines(keepends=True)))
    assert len(rows) == 22 and {r["source_name"] for r in rows} == {"UCDP GED"}
    lines = client.get("/api/v1/timeline", headers={"Accept": "application/x-ndjson"}).data
    assert len(lines.splitlines()) == 44  # each incident and its statement
    groups = client.get("/api/v1/claims?format=csv")
    table = list(csv.DictReader(groups.data.decode().splitlines(keepends=True)))
    paged = client.get("/api/v1/claims?limit=1000").json["items"]
    assert len(table) == len(paged) > 22  # per incident: the total, and each party's
    assert client.get("/api/v1/claims?format=geojson").status_code == 422


def test_a_column_dates_each_rows_version(
    cli_env: Settings, services: Services, tmp_path: Path
) -> None:
    # ACLED's timestamp (Unix seconds: when the row was last uploaded) dates each version
    result = run("acled", ACLED, "--on-error", "skip", "--report", tmp_path / "r.csv",
                 "--stated-at-column", "timestamp")  # fmt: skip
    assert result.exit_code == PARTIAL, result.output
    incident = services.app.get_incident(
        UUID(str(services.app.incident_by_external_id("acled", "CAF2000")))
    )
    assert incident["stated_at"] == "2022-08-08T23:06:40.000000+00:00"  # 1660000000
    both = run("acled", ACLED, "--stated-at-column", "timestamp", "--stated-at", "2023-01-01")
    assert both.exit_code == 2


def test_the_ndjson_export_splices_the_same_bytes_as_dumping_the_incidents(
    cli_env: Settings, services: Services, tmp_path: Path
) -> None:
    result = run("ucdp-ged", GED_CSV, "--on-error", "skip", "--report", tmp_path / "r.csv")
    assert result.exit_code == PARTIAL, result.output
    retired = UUID(str(services.app.incident_by_external_id("ucdp-ged", "256003")))
    services.app.retire_incident(retired, "duplicate", duplicate_of=str(
        services.app.incident_by_external_id("ucdp-ged", "256005")))  # fmt: skip
    services.runner.run_all()
    client = client_of(services)
    for query, where in (
        ("", TimelineFilter()),
        ("&retired=true", TimelineFilter(retired=True)),
        ("&as_of=2009-02-12T00:00:00Z&clock=stated",
         TimelineFilter(as_of="2009-02-12T00:00:00.000000+00:00", clock="stated")),
    ):  # fmt: skip
        spliced = client.get(f"/api/v1/incidents?format=ndjson{query}").data
        dumped = b"".join(exports.ndjson(services.reads.export_incidents(where)))
        assert spliced == dumped and spliced, query


def test_a_title_template_leaves_out_what_a_row_leaves_empty(tmp_path: Path) -> None:
    """ "{category}: {town}" of a row without a town is "Shelling", not "Shelling:"; a title
    made of empty columns only is no title (which the writer then refuses)."""
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        'namespace = "mon"\nid = "id"\ntitle = "{category}: {town}, {oblast}"\n'
        'date = "date"\nkind = { column = "category", default = "other" }\n'
        '[source]\nname = "Monitor"\nside = "independent"\ntype = "ngo"\n'
    )
    sheet = tmp_path / "rows.csv"
    sheet.write_text(
        "id,category,town,oblast,date\n"
        "1,Shelling,Izium,Kharkiv,2022-03-05\n"
        "2,Shelling,,Kharkiv,2022-03-05\n"
        "3,Shelling,,,2022-03-05\n"
        "4,,,,2022-03-05\n"
    )
    parsed = list(mapped.read(sheet, mapping=mapped.load_mapping(mapping)))
    assert [p.item["title"] for p in parsed if p.item] == [
        "Shelling: Izium, Kharkiv", "Shelling: Kharkiv", "Shelling", None
    ]  # fmt: skip

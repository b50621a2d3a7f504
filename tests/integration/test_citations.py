"""Citable answers: every read names its position and the ledger's hash there, any read can be
asked again at that position and answers the same, and a cited export is proven (or its
tampering named) by `timeline cite verify`."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from click.testing import CliRunner, Result
from flask.testing import FlaskClient

from cli import main
from tests.factories import T0, a_statement, an_incident
from tests.integration.test_ledger import tamper
from timeline.bootstrap import Services
from timeline.config import Settings
from timeline.links import decide

READS = ("/api/v1/timeline", "/api/v1/incidents", "/api/v1/claims", "/api/v1/sources",
         "/api/v1/aggregates", "/api/v1/ceasefires", "/api/v1/links", "/api/v1/links/proposals",
         "/api/v1/events?after=2&limit=3")  # fmt: skip


def history(services: Services) -> list[str]:
    """A few incidents in two datasets, two of them linked; their ids."""
    app = services.app
    ids = []
    for n, namespace in enumerate(("acled", "ucdp-ged", "acled")):
        written = app.report_incident(
            an_incident(title=f"Strike {n}", external_ids={namespace: str(n)}),
            statements=[a_statement(), a_statement(stance="denial", figures=[])],
        )
        ids.append(written.incident_id)
    decide(app, ids[0], ids[1], "link", "the same strike")
    truce = {"start": T0 - timedelta(hours=1), "end": T0 + timedelta(days=1)}
    app.report_incident(an_incident(kind="ceasefire", title="Truce", occurred=truce))
    services.runner.run_all()
    return ids


def later_changes(services: Services, ids: list[str]) -> None:
    """What happens after a citation: amendments, withdrawals, retirements, new incidents,
    new figures of a new metric, and an unlink."""
    app = services.app
    first = UUID(ids[0])
    app.amend_incident(first, {"title": "Strike, amended"}, "better title")
    statement = app.get_incident(first)["statements"][0]["id"]
    app.withdraw_statement(first, statement, "mis-recorded")
    app.retire_incident(UUID(ids[2]), "recorded_in_error")
    figure = {"metric": "drones", "value": 12}
    app.report_incident(an_incident(title="Later"), statements=[a_statement(figures=[figure])])
    app.report_incident(an_incident(title="Later still"))
    decide(app, ids[0], ids[1], "unlink", "not the same after all")
    services.runner.run_all()


@pytest.mark.parametrize("path", READS)
def test_every_read_cites_its_position_and_the_ledger_hash_there(
    services: Services, client: FlaskClient, path: str
) -> None:
    history(services)
    answer = client.get(path)
    assert answer.status_code == 200, answer.json
    citation = answer.json["citation"]
    assert citation["position"] == answer.json.get("position", answer.json.get("next_after")) > 0
    link = client.get(f"/api/v1/ledger/{citation['position']}").json
    assert citation["ledger_hash"] == link["hash"] == answer.headers["X-Ledger-Hash"]
    assert answer.headers["X-Projection-Position"] == str(citation["position"])


def test_an_incident_and_its_group_are_cited(services: Services, client: FlaskClient) -> None:
    ids = history(services)
    for path in (f"/api/v1/incidents/{ids[0]}", f"/api/v1/clusters/{ids[0]}",
                 f"/api/v1/incidents/{ids[0]}/history"):  # fmt: skip
        answer = client.get(path)
        assert answer.status_code == 200, answer.json
        hashed = client.get(f"/api/v1/ledger/{answer.json['citation']['position']}").json
        assert answer.json["citation"]["ledger_hash"] == hashed["hash"]


@pytest.mark.parametrize(
    "path",
    ["/api/v1/timeline", "/api/v1/incidents", "/api/v1/incidents?format=csv",
     "/api/v1/incidents?format=ndjson", "/api/v1/timeline?format=csv", "/api/v1/links",
     "/api/v1/aggregates?measure=statements&group_by=source_side", "/api/v1/aggregates",
     "/api/v1/claims", "/api/v1/claims?format=csv", "/api/v1/sources", "/api/v1/ceasefires"],
)  # fmt: skip
def test_a_read_at_a_cited_position_answers_exactly_as_it_did(
    services: Services, client: FlaskClient, path: str
) -> None:
    ids = history(services)
    then = client.get(path)
    assert then.status_code == 200
    position = int(then.headers["X-Projection-Position"])
    later_changes(services, ids)
    now = client.get(path)
    assert now.json["items"] != then.json["items"] if now.is_json else now.data != then.data
    joiner = "&" if "?" in path else "?"
    again = client.get(f"{path}{joiner}at_position={position}")
    assert again.status_code == 200, again.json
    assert again.data == then.data
    assert again.headers["X-Ledger-Hash"] == then.headers["X-Ledger-Hash"]


def test_a_group_at_a_cited_position(services: Services, client: FlaskClient) -> None:
    ids = history(services)
    then = client.get(f"/api/v1/clusters/{ids[1]}")
    later_changes(services, ids)
    assert len(client.get(f"/api/v1/clusters/{ids[1]}").json["members"]) == 1  # unlinked since
    position = then.json["citation"]["position"]
    again = client.get(f"/api/v1/clusters/{ids[1]}", query_string={"at_position": position})
    assert again.json == then.json


def test_at_position_refusals(services: Services, client: FlaskClient) -> None:
    history(services)
    head = services.app.head()
    beyond = client.get("/api/v1/timeline", query_string={"at_position": head + 1})
    assert beyond.status_code == 422 and "at_position" in beyond.json["errors"]["query"]
    for extra in ({"as_of": "2024-01-01T00:00:00Z"}, {"clock": "stated"}, {"dedupe": "linked"}):
        both = client.get("/api/v1/incidents", query_string={"at_position": 1, **extra})
        assert both.status_code == 422, both.json
        assert {"at_position", "dedupe"} & set(both.json["errors"]["query"])


def cli(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def cited(
    services: Services, cli_env: Settings, tmp_path: Path
) -> tuple[Path, list[str], dict[str, Any]]:
    """An NDJSON export of the incidents, cited, then more written to the log."""
    ids = history(services)
    output = tmp_path / "incidents.ndjson"
    result = cli("export", "--format", "ndjson", "-o", output)
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "incidents.ndjson.manifest.json").read_text())
    later_changes(services, ids)
    return output, ids, manifest


def test_an_export_writes_its_citation_beside_it(
    cited: tuple[Path, list[str], dict[str, Any]], client: FlaskClient
) -> None:
    output, _, manifest = cited
    assert manifest["sha256"] == hashlib.sha256(output.read_bytes()).hexdigest()
    assert manifest["bytes"] == output.stat().st_size and manifest["file"] == output.name
    assert manifest["query"]["format"] == "ndjson"
    hashed = client.get(f"/api/v1/ledger/{manifest['position']}").json
    assert manifest["ledger_hash"] == hashed["hash"]
    assert manifest["algorithm"] == hashed["algorithm"]


def test_a_cited_export_is_proven_after_later_writes(
    cited: tuple[Path, list[str], dict[str, Any]],
) -> None:
    output, _, _ = cited
    result = cli("cite", "verify", f"{output}.manifest.json")
    assert result.exit_code == 0, result.output
    assert "is the one cited" in result.output
    assert "gives the cited bytes" in result.output
    assert "is untouched" in result.output


def test_a_changed_file_is_named(cited: tuple[Path, list[str], dict[str, Any]]) -> None:
    output, _, _ = cited
    output.write_bytes(output.read_bytes().replace(b"Strike 0", b"Strike 9"))
    result = cli("cite", "verify", f"{output}.manifest.json")
    assert result.exit_code == 1
    assert f"the file {output} differs from the one cited" in result.output
    assert "gives the cited bytes" in result.output  # the service still answers the same


def test_tampering_with_the_log_is_named_by_position(
    cited: tuple[Path, list[str], dict[str, Any]], services: Services
) -> None:
    output, _, manifest = cited
    tamper(services, 1, b"Strike 0", b"Strike 9")
    result = cli("cite", "verify", f"{output}.manifest.json")
    assert result.exit_code == 1
    assert "the log was changed at position 1" in result.output
    # … and a ledger rebuilt from the edited log no longer gives the cited hash
    services.runner.rebuild(["ledger"])
    rebuilt = cli("cite", "verify", f"{output}.manifest.json")
    assert rebuilt.exit_code == 1
    assert f"up to position {manifest['position']} does not give the cited hash" in rebuilt.output


def test_a_bad_manifest_exits_2(tmp_path: Path, cli_env: Settings) -> None:
    bogus = tmp_path / "m.json"
    bogus.write_text('{"kind": "something else"}')
    result = cli("cite", "verify", bogus)
    assert result.exit_code == 2 and "not a manifest" in result.output


def test_an_incident_and_its_history_at_a_cited_position(
    services: Services, client: FlaskClient
) -> None:
    ids = history(services)
    paths = (f"/api/v1/incidents/{ids[0]}", f"/api/v1/incidents/{ids[0]}/history")
    then = [client.get(path) for path in paths]
    position = then[0].json["citation"]["position"]
    later_changes(services, ids)
    for path, answer in zip(paths, then, strict=True):
        assert client.get(path).json != answer.json
        again = client.get(path, query_string={"at_position": position})
        assert again.status_code == 200, again.json
        expected = answer.json | {"position": position}
        expected["citation"] = again.json["citation"]
        assert again.json == expected
        assert again.json["citation"]["position"] == position
    before = client.get(f"/api/v1/incidents/{ids[1]}", query_string={"at_position": 1})
    assert before.status_code == 404 and "not yet recorded at position 1" in before.json["message"]

"""The tamper-evident ledger on real databases: editing a stored event row is detected."""

from __future__ import annotations

import subprocess
import sys
from uuid import UUID

import psycopg
import pytest

from api import create_app
from tests.e2e.processes import env_for
from tests.factories import a_statement, an_incident
from timeline.bootstrap import Services
from timeline.event_log import read_log
from timeline.ledger import GENESIS, chain, link, verify
from timeline.projections.ledger import stored_links


def chained(services: Services) -> None:
    app = services.app
    for _ in range(3):
        written = app.report_incident(an_incident(), statements=[a_statement(), a_statement()])
    app.amend_incident(UUID(written.incident_id), {"title": "Amended"}, "precision")
    services.runner.run("ledger")


def tamper(services: Services, position: int, old: bytes, new: bytes) -> None:
    """Edit one stored event in place, as someone with database access could."""
    settings = services.settings
    if settings.postgres is None:
        import sqlite3

        with sqlite3.connect(settings.events_path) as connection:
            (state,) = connection.execute(
                "SELECT state FROM stored_events WHERE rowid = ?", (position,)
            ).fetchone()
            assert old in state
            connection.execute(
                "UPDATE stored_events SET state = ? WHERE rowid = ?",
                (state.replace(old, new), position),
            )
        return
    table = f"{settings.database_schema}.{services.app.recorder.events_table_name}"
    with psycopg.connect(settings.postgres.conninfo(), autocommit=True) as connection:
        (state,) = connection.execute(
            f"SELECT state FROM {table} WHERE notification_id = %s", (position,)
        ).fetchone()
        assert old in bytes(state)
        connection.execute(
            f"UPDATE {table} SET state = %s WHERE notification_id = %s",
            (bytes(state).replace(old, new), position),
        )


def test_links_chain_from_genesis(services: Services) -> None:
    chained(services)
    entries = read_log(services.app, 0, 100)
    expected = GENESIS
    for entry in entries:
        expected = link(expected, entry.stored)
    assert services.reads.ledger_head() == (entries[-1].position, expected.hex())
    assert [p for p, _ in chain(services.app)] == [e.position for e in entries]


def test_an_untouched_log_verifies(services: Services) -> None:
    chained(services)
    verdict = verify(services.app, stored_links(services.views))
    assert verdict.ok and verdict.checked == services.app.head() and verdict.unchained == 0
    services.app.report_incident(an_incident())
    assert verify(services.app, stored_links(services.views)).unchained == 1


def test_an_edited_event_is_named_by_position(services: Services) -> None:
    chained(services)
    tamper(services, 5, b'"value":600', b'"value":60')  # a statement's claimed figure
    verdict = verify(services.app, stored_links(services.views))
    assert not verdict.ok
    assert verdict.first_bad_position == 5
    assert verdict.checked == 4


def test_an_event_edited_until_it_no_longer_decodes_is_still_named(services: Services) -> None:
    # The chain hashes stored bytes and never decodes them, so damage that breaks decoding
    # (here a renamed key) is reported at its position like any other edit.
    chained(services)
    tamper(services, 3, b'"statement":', b'"statemant":')
    verdict = verify(services.app, stored_links(services.views))
    assert verdict.first_bad_position == 3
    assert verdict.checked == 2


def timeline_verify(services: Services) -> subprocess.CompletedProcess[str]:
    """Run `timeline verify` as a process against the test's stores."""
    return subprocess.run(
        [sys.executable, "-m", "cli", "verify"],
        env=env_for(services.settings),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_timeline_verify_exits_non_zero_naming_the_position(services: Services) -> None:
    chained(services)
    ok = timeline_verify(services)
    assert ok.returncode == 0, ok.stderr
    assert "ledger ok" in ok.stderr
    tamper(services, 4, b"Missile strike", b"Missile strikes")  # the second incident's report
    bad = timeline_verify(services)
    assert bad.returncode == 1
    assert "ledger mismatch at position 4" in bad.stderr


@pytest.mark.parametrize("backend", ["sqlite"], indirect=False)
def test_a_deleted_event_is_named(services: Services, backend: str) -> None:
    import sqlite3

    chained(services)
    with sqlite3.connect(services.settings.events_path) as connection:
        connection.execute("DELETE FROM stored_events WHERE rowid = 4")
    verdict = verify(services.app, stored_links(services.views))
    assert verdict.first_bad_position == 4
    assert "missing" in (verdict.reason or "")


def test_an_event_that_no_longer_decodes_is_named_by_verify_and_by_events(
    services: Services,
) -> None:
    chained(services)
    tamper(services, 4, b'"title":', b'"title"')  # no longer JSON: it cannot be decoded
    bad = timeline_verify(services)
    assert bad.returncode == 1, bad.stderr
    assert "position 4" in bad.stderr and "Traceback" not in bad.stderr
    client = create_app(services=services).test_client()
    answer = client.get("/api/v1/events?after=0")
    assert answer.status_code == 500 and answer.is_json
    assert "position 4" in answer.json["message"]
    assert client.get("/api/v1/events?after=4").status_code == 200  # the rest still reads


def test_the_hash_at_any_position_is_served(services: Services) -> None:
    chained(services)
    client = create_app(services=services).test_client()
    read = {"Authorization": "Bearer test-read-key"}
    links = dict(stored_links(services.views))
    for position in (1, 4, max(links)):
        answer = client.get(f"/api/v1/ledger/{position}", headers=read)
        assert answer.status_code == 200, answer.json
        assert answer.json == {"position": position, "hash": links[position],
                               "algorithm": "sha256-chain-v2"}  # fmt: skip
    beyond = client.get(f"/api/v1/ledger/{max(links) + 1}", headers=read)
    assert beyond.status_code == 404 and str(max(links)) in beyond.json["message"]

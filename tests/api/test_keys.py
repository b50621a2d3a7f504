"""API keys from the key store: hashed, scoped, revocable; and the `timeline keys` commands."""

from __future__ import annotations

from uuid import UUID

from click.testing import CliRunner
from flask.testing import FlaskClient

from cli import main
from tests.factories import an_incident, as_json
from timeline.bootstrap import Services
from timeline.config import Settings


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_created_key_works_for_its_scope_until_revoked(
    client: FlaskClient, services: Services
) -> None:
    writer, record = services.keys.create("newsroom importer", "write")
    reader, _ = services.keys.create("dashboard", "read")
    body = as_json(an_incident())
    assert client.post("/api/v1/incidents", json=body, headers=bearer(writer)).status_code == 201
    assert client.post("/api/v1/incidents", json=body, headers=bearer(reader)).status_code == 403
    assert client.post("/api/v1/incidents", json=body).status_code == 401

    services.keys.revoke(record["id"])
    revoked = client.post("/api/v1/incidents", json=body, headers=bearer(writer))
    assert revoked.status_code == 401
    assert "revoked" in revoked.json["message"]


def test_keys_are_stored_hashed_and_wrong_secrets_fail(services: Services) -> None:
    key, record = services.keys.create("importer", "admin")
    key_id, secret = key.removeprefix("tlk_").split("_", 1)
    assert record["id"].replace("-", "") == key_id
    stored = services.keys.recorder.select_events(UUID(record["id"]))
    assert stored and all(secret.encode() not in event.state for event in stored)
    assert services.keys.caller(key) is not None
    assert services.keys.caller(f"tlk_{key_id}_{'x' * len(secret)}") is None
    assert services.keys.caller(f"tlk_{'0' * 32}_{secret}") is None
    assert services.keys.caller("not-a-key") is None


def test_the_keys_commands(cli_env: Settings, services: Services) -> None:
    runner = CliRunner()
    created = runner.invoke(main, ["keys", "create", "--scope", "write", "--name", "importer"])
    assert created.exit_code == 0, created.output
    key = created.output.strip().splitlines()[-1]
    assert key.startswith("tlk_")
    caller = services.keys.caller(key)
    assert caller is not None and (caller.name, caller.scope) == ("importer", "write")

    listed = runner.invoke(main, ["keys", "list"], terminal_width=200)
    assert "importer" in listed.output and key not in listed.output
    # on an 80-column terminal (or a pipe) the id comes out whole, ready for `keys revoke`
    narrow = runner.invoke(main, ["keys", "list"], env={"COLUMNS": "80"})
    assert caller.key_id in narrow.output, narrow.output

    # piped, every value comes out whole, one key a line, tab-separated: nothing cut at 80
    long_name = "the newsroom's nightly importer of every monitor's snapshots, run by the desk"
    made = runner.invoke(main, ["keys", "create", "--scope", "read", "--name", long_name])
    assert f"for {long_name}\n" in made.output  # not folded either
    piped = runner.invoke(main, ["keys", "list"], env={"COLUMNS": "80"}).stdout.splitlines()
    assert piped[0] == "id\tname\tscope\tcreated\trevoked"
    assert any(line.split("\t")[1:3] == [long_name, "read"] for line in piped[1:]), piped

    revoked = runner.invoke(main, ["keys", "revoke", caller.key_id])
    assert revoked.exit_code == 0, revoked.output
    assert services.keys.caller(key) is None
    again = runner.invoke(main, ["keys", "revoke", caller.key_id])
    assert again.exit_code != 0
    unknown = runner.invoke(main, ["keys", "revoke", "nope"])
    assert unknown.exit_code == 2 and "No key" in unknown.output
    bad_scope = runner.invoke(main, ["keys", "create", "--scope", "root", "--name", "x"])
    assert bad_scope.exit_code == 2

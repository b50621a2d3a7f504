"""Settings come from TIMELINE_* variables only, with documented defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from timeline.config import ConfigError, PostgresParams, Settings


def test_defaults_are_the_embedded_setup() -> None:
    settings = Settings.from_env({})
    # ./var, resolved once against where the process started: children inherit the same path
    assert settings.data_dir == Path.cwd() / "var" and settings.data_dir.is_absolute()
    assert settings.database_url is None and settings.postgres is None
    assert settings.redis_url is None
    assert settings.api_keys == {}
    assert settings.events_path == Path.cwd() / "var/events.sqlite3"


def test_a_relative_data_dir_is_resolved_and_every_command_names_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from timeline.config import describe_store

    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({"TIMELINE_DATA_DIR": "here/var"})
    assert settings.data_dir == tmp_path / "here/var"
    assert describe_store(settings) == (
        f"store: SQLite in {tmp_path / 'here/var'} (new, empty: set TIMELINE_DATA_DIR to use "
        "another)"
    )
    settings.data_dir.mkdir(parents=True)
    settings.events_path.touch()
    assert describe_store(settings) == f"store: SQLite in {tmp_path / 'here/var'}"
    postgres = settings.with_changes(database_url="postgresql://u@db:5433/tl", database_schema="s")
    assert describe_store(postgres).startswith("store: PostgreSQL db:5433/tl schema s")


def test_reads_every_variable() -> None:
    settings = Settings.from_env(
        {
            "TIMELINE_DATA_DIR": "/srv/tl",
            "TIMELINE_DATABASE_URL": "postgresql://app:p%40ss@db:6543/timeline",
            "TIMELINE_DATABASE_SCHEMA": "tl",
            "TIMELINE_REDIS_URL": "redis://cache:6379/1",
            "TIMELINE_API_KEYS": "write:s3cret, read:r3ader",
            "TIMELINE_READ_REQUIRES_KEY": "yes",
            "TIMELINE_MAX_BODY_BYTES": "1000",
            "TIMELINE_CREATE_TABLES": "no",
        }
    )
    assert settings.api_keys == {"s3cret": "write", "r3ader": "read"}
    assert settings.postgres == PostgresParams("db", 6543, "app", "p@ss", "timeline")
    assert settings.read_requires_key and not settings.create_tables
    assert settings.max_body_bytes == 1000
    assert settings.database_schema == "tl"


@pytest.mark.parametrize(
    "env",
    [
        {"TIMELINE_API_KEYS": "root:x"},
        {"TIMELINE_API_KEYS": "write"},
        {"TIMELINE_MAX_BODY_BYTES": "lots"},
        {"TIMELINE_DATABASE_URL": "mysql://x"},
    ],
)
def test_malformed_settings_name_the_variable(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env).postgres  # noqa: B018 - parsing the URL is the point
    assert "TIMELINE_" in str(caught.value)

"""The data directory and every store in it are readable by their owner only: they hold
webhook signing secrets, key hashes and the cursor-signing key."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from timeline.bootstrap import build
from timeline.config import Settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_stores_are_created_owner_only(tmp_path: Path, redis_url: str, umask: int) -> None:
    settings = Settings(data_dir=tmp_path / "var", redis_url=redis_url, secret_key=None,
                        webhook_allow_private=True)  # fmt: skip
    previous = os.umask(umask)
    try:
        services = build(settings, create_tables=True)
    finally:
        os.umask(previous)
    try:
        hook = {"url": "http://127.0.0.1:9/hook", "event_types": ["statement.recorded"]}
        services.subscriptions.create(hook, 0)
        services.keys.create("importer", "write")
        assert services.secret_key
        data = settings.data_dir
        stores = sorted(p.name for p in data.iterdir() if ".sqlite3" in p.name)
        # every store, and the WAL files SQLite made beside them while they are open
        assert {"events.sqlite3", "subscriptions.sqlite3-wal", "keys.sqlite3-wal"} <= set(stores)
        assert {name: mode(data / name) for name in stores} == {name: 0o600 for name in stores}
        assert mode(data) == 0o700
        assert mode(data / "secret.key") == 0o600
    finally:
        services.close()


def test_an_existing_store_is_narrowed_to_its_owner(tmp_path: Path, redis_url: str) -> None:
    data = tmp_path / "var"
    data.mkdir()
    (data / "subscriptions.sqlite3").touch(mode=0o644)
    (data / "subscriptions.sqlite3").chmod(0o644)
    build(Settings(data_dir=data, redis_url=redis_url), create_tables=True).close()
    assert mode(data / "subscriptions.sqlite3") == 0o600

"""Files only their owner may read: the data directory holds signing secrets and key hashes.

SQLite creates its files with the process's umask (usually 0644), and gives a database's
``-wal`` and ``-shm`` files the database file's own mode; so each store is created here,
empty, owner-only, before SQLite opens it, and an existing one is narrowed to owner-only.
"""

from __future__ import annotations

import os
from pathlib import Path

SIDE_FILES = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> Path:
    """The directory, created owner-only (0700) if missing (an existing one is left as its
    operator made it: the files in it are owner-only anyway)."""
    if not path.exists():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.chmod(0o700)  # (mkdir's mode passes through the umask)
    return path


def private_file(path: Path) -> Path:
    """The file (a SQLite database), created empty if missing, and it and its side files
    made owner-only (0600)."""
    private_dir(path.parent)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for file in (path, *(path.with_name(path.name + side) for side in SIDE_FILES)):
        if file.exists():
            file.chmod(0o600)
    return path

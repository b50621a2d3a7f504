"""Citations of exported files: what was asked, at which log position, the ledger's hash there
and a digest of the bytes — and, years later, proof that the service still answers the same.

`timeline export -o FILE` writes ``FILE.manifest.json`` beside the file. `timeline cite verify
MANIFEST` then (1) recomputes the hash chain from the stored events up to the manifest's
position, naming the first position whose event was edited, deleted or inserted since it was
chained, and checks the recomputed hash against the manifest's; (2) runs the same export again
at that position (``at_position``) and checks its digest against the manifest's, and against
the file itself when it is still there.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eventsourcing.application import Application

from timeline.ledger import ALGORITHM, chain

MANIFEST_SUFFIX = ".manifest.json"
# A position names a point of the recorded log: a time or the stated clock beside it is refused.
AT_POSITION_ALONE = (
    "at_position replays the log as recorded: give it without as_of or clock=stated."
)
KIND = "conflict-timeline export citation"


def manifest_path(output: Path) -> Path:
    """Where the manifest of an exported file goes: beside it."""
    return output.with_name(output.name + MANIFEST_SUFFIX)


def manifest(
    query: dict[str, Any], position: int, ledger_hash: str | None, sha256: str, size: int,
    file: str,
) -> dict[str, Any]:  # fmt: skip
    """A manifest's content (plain data, written as JSON)."""
    return {
        "kind": KIND,
        "file": file,
        "query": query,
        "position": position,
        "ledger_hash": ledger_hash,
        "algorithm": ALGORITHM,
        "sha256": sha256,
        "bytes": size,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def read_manifest(path: Path) -> dict[str, Any]:
    """A manifest written by `timeline export`; ValueError naming what is wrong otherwise."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} cannot be read as a manifest: {error}") from None
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise ValueError(f"{path} is not a manifest written by `timeline export`")
    missing = [k for k in ("query", "position", "sha256", "algorithm") if k not in data]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}")
    if data["algorithm"] != ALGORITHM:
        raise ValueError(f"{path} cites a chain of algorithm {data['algorithm']}, not {ALGORITHM}")
    return data


@dataclass(frozen=True)
class ChainCheck:
    """The recomputed chain up to a position, beside the ledger's stored links and a hash."""

    checked: int
    tampered_at: int | None  # the first position whose event no longer matches its link
    reason: str | None
    recomputed_hash: str | None  # at the cited position (None: the log does not reach it)


def check_chain(
    app: Application[Any],
    stored_links: Iterator[tuple[int, str]],
    position: int,
    on_progress: Callable[[int], None] | None = None,
) -> ChainCheck:
    """Recompute the chain from the stored events up to ``position`` beside the ledger's
    stored links (``stored_links``: (position, hex hash) in ascending order), as `timeline
    verify` does, and give the recomputed hash at ``position``."""
    checked, reached = 0, None
    expected = next(stored_links, None)
    for at, found in chain(app):
        if at > position:
            break
        if on_progress is not None:
            on_progress(at)
        if expected is None or at < expected[0]:
            return ChainCheck(checked, at, "event is not in the ledger (inserted?)", None)
        if at > expected[0]:
            return ChainCheck(checked, expected[0], "event is missing from the log (deleted?)",
                              None)  # fmt: skip
        if found.hex() != expected[1]:
            return ChainCheck(checked, at, "event content differs from when it was chained",
                              None)  # fmt: skip
        checked, reached = checked + 1, (at, found.hex())
        expected = next(stored_links, None)
    if expected is not None and expected[0] <= position:
        return ChainCheck(checked, expected[0], "event is missing from the log (deleted?)", None)
    cited = reached[1] if reached is not None and reached[0] == position else None
    return ChainCheck(checked, None, None, cited)


class HashingWriter:
    """A file-like sink that also digests what passes through it (``sink``: None to keep
    only the digest)."""

    def __init__(self, sink: Any = None) -> None:
        self._sink = sink
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        """Write (if there is a sink) and digest."""
        if self._sink is not None:
            self._sink.write(data)
        self._hash.update(data)
        self.size += len(data)
        return len(data)

    def close(self) -> None:
        """Close the sink."""
        if self._sink is not None:
            self._sink.close()

    @property
    def sha256(self) -> str:
        """The hex digest of everything written."""
        return self._hash.hexdigest()

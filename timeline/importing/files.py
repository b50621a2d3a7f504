"""Opening the files analysts are given, as they are: any of four encodings, a BOM or not,
gzipped or not — and a clear answer, never a traceback, when a file cannot be read.

A file that cannot be read at all (a directory, a device, bytes that are not text in the
encoding given, a header with duplicate or empty names) is refused as a whole, in one line
that names the row and byte. A row the CSV reader cannot take (a field over the size limit,
fewer or more fields than the header) is that row's problem, which ``--on-error skip`` leaves
out like any other.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import IO, Any

from timeline.importing.rows import Problem

# What --encoding accepts. utf-8 reads a file with or without a byte-order mark.
ENCODINGS = ("utf-8", "utf-8-sig", "cp1252", "latin-1")
GZIP_MAGIC = b"\x1f\x8b"
# One field may be this long (csv's own default is 128 KiB, which a long notes column passes).
FIELD_LIMIT = 1024 * 1024
csv.field_size_limit(FIELD_LIMIT)


# Told how many bytes of the file (as stored: gzipped ones too) have been read: a progress bar
# over one pass needs no count of the rows first.
_ON_READ: ContextVar[Callable[[int], None] | None] = ContextVar("on_read", default=None)


@contextmanager
def watching(on_read: Callable[[int], None]) -> Iterator[None]:
    """Files opened within are reported to ``on_read`` as they are read (bytes so far)."""
    token = _ON_READ.set(on_read)
    try:
        yield
    finally:
        _ON_READ.reset(token)


class _Watched(io.RawIOBase):
    """A file that says how far it has been read."""

    def __init__(self, raw: IO[bytes], on_read: Callable[[int], None]) -> None:
        self._raw = raw
        self._on_read = on_read
        self._read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        self._read += n or 0
        self._on_read(self._read)
        return int(n or 0)

    def close(self) -> None:
        self._raw.close()
        super().close()


class FileRefused(Exception):
    """The file as a whole cannot be read: why, in one line."""


def readable(path: Path) -> None:
    """Refuse what is not a file to read through (a directory, a device, a socket)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise FileRefused(f"{path}: no such file") from None
    except OSError as error:
        raise FileRefused(f"{path}: {error.strerror}") from None
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
        raise FileRefused(f"{path}: not a file (a directory or a device)")


def open_text(path: Path, encoding: str = "utf-8") -> IO[str]:
    """The file as text: gunzipped if it is gzip, decoded strictly, a BOM dropped."""
    readable(path)
    raw: IO[bytes] = open(path, "rb")  # noqa: SIM115 (the wrapper returned owns it)
    if (on_read := _ON_READ.get()) is not None:
        raw = io.BufferedReader(_Watched(raw, on_read))
    if isinstance(raw, io.BufferedReader) and raw.peek(2)[:2] == GZIP_MAGIC:
        raw = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
    codec = "utf-8-sig" if encoding == "utf-8" else encoding
    return io.TextIOWrapper(raw, encoding=codec, errors="strict", newline="")


def undecodable(path: Path, encoding: str) -> str:
    """Where the first byte that is not text in ``encoding`` is, in words a person can act
    on (found again from the start: the text reader decodes in blocks)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig" if encoding == "utf-8" else encoding)()
    offset, line = 0, 1
    with path.open("rb") as start:
        zipped = start.read(2) == GZIP_MAGIC
    with gzip.open(path, "rb") if zipped else path.open("rb") as f:
        while block := f.read(65536):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as error:
                at = offset + error.start
                line += block[: error.start].count(b"\n")
                other = "cp1252" if encoding.startswith("utf-8") else "utf-8"
                byte = block[error.start]
                return (f"line {line}, byte {at}: 0x{byte:02x} is not {encoding} text (if "
                        f"the file is {other}, say so with --encoding {other})")  # fmt: skip
            line += block.count(b"\n")
            offset += len(block)
    return f"not {encoding} text"


Rows = Iterator[dict[str, str] | Problem]


def csv_rows(path: Path, encoding: str = "utf-8") -> tuple[list[str], Rows]:
    """The header, and each row as a dict — or, for a row the reader cannot take, its
    problem (one item a row, so rows keep their numbers)."""
    f = open_text(path, encoding)
    reader = csv.reader(f)
    try:
        header = next(reader, [])
    except UnicodeDecodeError:
        f.close()
        raise FileRefused(f"{path}: {undecodable(path, encoding)}") from None
    except (csv.Error, OSError, EOFError) as error:
        f.close()
        raise FileRefused(f"{path}: the header cannot be read ({error})") from None
    header = [name.strip() for name in header]
    empty = [str(n + 1) for n, name in enumerate(header) if not name]
    if empty:
        f.close()
        raise FileRefused(f"{path}: column(s) {', '.join(empty)} of the header have no name")
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        f.close()
        raise FileRefused(f"{path}: the header names {', '.join(map(repr, twice))} twice")
    return header, _records(f, reader, header, path, encoding)


def _records(
    f: IO[str], reader: Iterator[list[str]], header: list[str], path: Path, encoding: str
) -> Rows:
    row = 0
    with f:
        while True:
            row += 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError:
                raise FileRefused(f"{path}: row {row}, {undecodable(path, encoding)}") from None
            except csv.Error as error:
                yield Problem(row, "(row)", f"The row cannot be read: {error}.")
                continue
            except (OSError, EOFError) as error:  # a truncated gzip file
                raise FileRefused(f"{path}: row {row} cannot be read ({error})") from None
            if not values:
                row -= 1  # a blank line is no row
                continue
            if len(values) != len(header):
                fewer = len(values) < len(header)
                yield Problem(row, header[len(values)] if fewer else "(row)",
                              f"{len(values)} field(s) where the header has {len(header)}: "
                              f"{'fewer' if fewer else 'more'} than the header.")  # fmt: skip
                continue
            yield dict(zip(header, values, strict=True))

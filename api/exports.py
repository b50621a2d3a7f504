"""Streaming a whole filtered listing as a file: NDJSON, CSV or GeoJSON.

Chosen by ``format=`` or, without it, by the ``Accept`` header. The answer is streamed as it is
read (constant memory, any size), from one snapshot whose log position is in the
``X-Projection-Position`` header.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from flask import Response, request
from marshmallow import fields, validate

from api.citation import citation_of, with_citation_headers
from timeline import exports
from timeline.read_models import Export

# Accept's media types (text/csv: the flat CSV, not ACLED's layout).
ACCEPTED = {
    media.split(";")[0]: name for name, media in exports.FORMATS.items() if name != "acled-csv"
}


def FormatArg(allowed: Iterable[str], what: str) -> fields.String:
    """``format=``: json (a page), or the whole result as a file in one of ``allowed``."""
    return fields.String(
        validate=validate.OneOf(("json", *allowed)),
        metadata={
            "description": f"json: a page. {', '.join(allowed)}: every matching {what}, "
            "streamed as a file (limit and cursor do not apply). Without it, the Accept header "
            "chooses."
        },
    )


def file_responses(allowed: Iterable[str], what: str) -> dict[str, Any]:
    """The 200 response's other content types, for ``blp.doc``: each file format a listing
    streams (a generated client must know the endpoint answers them)."""
    media = {exports.FORMATS[name].split(";")[0] for name in allowed}
    described = {"type": "string", "description": f"Every matching {what}, as a file."}
    content = {m: {"schema": GEOJSON if m == GEOJSON_MEDIA else described} for m in media}
    return {"responses": {200: {"content": dict(sorted(content.items()))}}}


GEOJSON_MEDIA = "application/geo+json"
# RFC 7946's FeatureCollection, as far as a client needs it to read the file.
GEOJSON = {
    "type": "object",
    "description": "Every matching incident with a place, as an RFC 7946 FeatureCollection.",
    "required": ["type", "features"],
    "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "features": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "geometry", "properties"],
                "properties": {
                    "type": {"type": "string", "enum": ["Feature"]},
                    "geometry": {"type": "object", "nullable": True},
                    "properties": {"type": "object"},
                },
            },
        },
    },
}


def wanted(given: str | None, allowed: Iterable[str] = exports.WRITERS) -> str | None:
    """The export format asked for (``format=``, else ``Accept``, among ``allowed``); None:
    a JSON page."""
    if given and given != "json":
        return given
    if given == "json":
        return None
    offered = [media for media, name in ACCEPTED.items() if name in allowed]
    best = request.accept_mimetypes.best_match(["application/json", *offered])
    return ACCEPTED.get(best or "")


class _Streamed:
    """The response body: the writer's chunks; closing it ends the export's snapshot, whether
    the client read it all or went away."""

    def __init__(self, chunks: Iterator[Any], export: Export) -> None:
        self._chunks, self._export = chunks, export

    def __iter__(self) -> Iterator[Any]:
        return self._chunks

    def close(self) -> None:
        """Called by the WSGI server when the response is done."""
        self._export.close()


def _in_blocks(chunks: Iterator[Any], size: int = 1 << 16) -> Iterator[bytes]:
    """The writer's chunks (a row each) sent in blocks of about ``size`` bytes: one write to
    the socket per block, not per row."""
    block: list[bytes] = []
    held = 0
    for chunk in chunks:
        data = chunk if isinstance(chunk, bytes) else chunk.encode()
        block.append(data)
        held += len(data)
        if held >= size:
            yield b"".join(block)
            block, held = [], 0
    if block:
        yield b"".join(block)


def streamed(
    export: Export, data_format: str, name: str, writers: Mapping[str, Any] = exports.WRITERS
) -> Response:
    """The export as a streamed file download."""
    body = _Streamed(_in_blocks(exports.write(export, data_format, writers)), export)
    response = Response(body, content_type=exports.FORMATS[data_format])
    extension = {"ndjson": "ndjson", "csv": "csv", "acled-csv": "csv", "geojson": "geojson"}[
        data_format
    ]
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{extension}"'
    return with_citation_headers(response, citation_of(export.position))

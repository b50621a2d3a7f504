"""Optimistic concurrency: an incident's version is its ``ETag``; ``If-Match`` makes a write
conditional on it.

Two editors who read version 4 and both amend it must not silently overwrite each other: each
sends ``If-Match: "4"``, the first write makes version 5, the second is refused with 412
Precondition Failed (the check is made inside the write, against the version it loads, so no
race slips between them). Without ``If-Match`` writes are unconditional, as before.
"""

from __future__ import annotations

from flask import request


def etag(version: int) -> str:
    """The entity tag of an incident at a version (strong: the version names its content)."""
    return f'"{version}"'


def if_match() -> frozenset[int] | None:
    """The versions the request's ``If-Match`` accepts; None when it sets no condition (no
    header, or ``*``: any current version). A tag that names no version (weak, malformed)
    matches nothing, as RFC 9110's strong comparison says: the write then gets a 412."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    versions = set()
    for tag in header.split(","):
        tag = tag.strip()
        if len(tag) > 2 and tag[0] == tag[-1] == '"' and tag[1:-1].isdigit():
            versions.add(int(tag[1:-1]))
    return frozenset(versions)


# The header as the OpenAPI document describes it, on every write to an incident.
IF_MATCH_DOC = {
    "parameters": [
        {
            "in": "header",
            "name": "If-Match",
            "required": False,
            "schema": {"type": "string"},
            "description": 'The incident\'s ETag as read (e.g. `"4"`), several separated by '
            "commas, or `*`: the write happens only if the incident is still at that version, "
            "else 412 with its `current_version`.",
        }
    ]
}

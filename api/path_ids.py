"""Ids in paths: ``<uuid:…>`` matches any segment, and one that is not a UUID is a 404 that
says so.

Werkzeug's own converter matches UUIDs only, so ``/incidents/kramatorsk`` matched no route and
answered the generic "The requested URL was not found on the server"; a client could not tell
a typo in the path from a malformed id.
"""

from __future__ import annotations

import uuid

from werkzeug.exceptions import NotFound
from werkzeug.routing import UUIDConverter


class UUIDPathConverter(UUIDConverter):
    """A path segment that must be a UUID (documented as one: it is werkzeug's subclass)."""

    regex = "[^/]+"

    def to_python(self, value: str) -> uuid.UUID:
        """The UUID; a 404 naming the segment when it is not one."""
        try:
            return uuid.UUID(value)
        except ValueError:
            raise NotFound(f"No such resource: {value!r} is not an id (ids are UUIDs).") from None

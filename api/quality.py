"""The quality flags' shape in answers (see :mod:`timeline.domain.quality`)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from timeline.domain.quality import CODES


class FlagOut(Schema):
    """Where the source broke one of its own rules; the value is stored as it published it."""

    code = fields.String(metadata={"enum": list(CODES)})
    field = fields.String(metadata={"description": "The field, e.g. figures.0.high."})
    message = fields.String()


def flags_field(what: str) -> fields.List[Any]:
    """A ``flags`` list, documented for ``what`` carries them."""
    return fields.List(
        fields.Nested(FlagOut),
        metadata={"description": f"Where the source broke its own rules in {what} (stored as "
                  "published, flagged). Empty: none."},
    )  # fmt: skip


class FlagIn(Schema):
    """A flag a writer found itself (an importer's unmapped category value), sent with
    ``as_published``."""

    code = fields.String(required=True, validate=validate.OneOf(list(CODES)))
    field = fields.String(load_default="", validate=validate.Length(max=200))
    message = fields.String(load_default="", validate=validate.Length(max=500))

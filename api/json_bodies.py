"""Request bodies parsed strictly: what cannot be stored is refused as it is read.

The standard library's parser recurses once per nesting level, so a body of 100,000 brackets
raised RecursionError (a 500); and it accepts escaped lone surrogates (``"\\ud800"``), text
that cannot be encoded to be stored (a 500 later, at the database). Both are now a 400, as
is nesting deeper than :data:`MAX_DEPTH` (no field of the API comes near it), for Flask's own
``request.get_json`` and for the bodies flask-smorest's blueprints parse (webargs).
"""

from __future__ import annotations

import json
from typing import Any

import flask_smorest
from flask import Request
from flask.json.provider import DefaultJSONProvider
from marshmallow import Schema
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request

# Levels of arrays and objects a body may nest (the API's deepest field is a few levels down).
MAX_DEPTH = 32


def strict_loads(data: str | bytes) -> Any:
    """Parse JSON text; json.JSONDecodeError (a ValueError) for malformed JSON, nesting deeper
    than MAX_DEPTH or a string holding a lone surrogate."""
    text = data.decode() if isinstance(data, bytes) else data
    try:
        value = json.loads(text)
    except RecursionError:
        raise json.JSONDecodeError(f"Nested more than {MAX_DEPTH} levels deep", text, 0) from None
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, str):
            if not node.isascii():
                try:
                    node.encode()
                except UnicodeEncodeError:
                    raise json.JSONDecodeError("A string holds a lone surrogate", text, 0) from None
            continue
        if not isinstance(node, dict | list):
            continue
        if depth > MAX_DEPTH:
            raise json.JSONDecodeError(f"Nested more than {MAX_DEPTH} levels deep", text, 0)
        children = [*node, *node.values()] if isinstance(node, dict) else node
        pending.extend((child, depth + 1) for child in children)
    return value


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, parsing with :func:`strict_loads`."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse JSON text strictly (see strict_loads)."""
        return strict_loads(s)


class StrictParser(FlaskParser):
    """webargs' Flask parser, reading JSON bodies with :func:`strict_loads`."""

    def load_json(self, req: Request, schema: Schema) -> Any:
        """The body's JSON; 400 when malformed, 415 when not JSON. An empty body is missing
        when the schema has required fields (the errors then name them), else a 422."""
        data = req.get_data(cache=True)
        if not data.strip():  # every body the API takes is required (the document says so)
            if any(field.required for field in schema.fields.values()):
                return core.missing  # judged on the fields it lacks, which the errors name
            abort(422, messages={"json": ["A JSON body is required."]})
        if not is_json_request(req):
            # A body we would not read: say so (415), not "missing" for every field it holds.
            abort(
                415,
                messages={"json": ["The body must be JSON: send Content-Type: application/json."]},
            )
        try:
            return strict_loads(data)
        except UnicodeDecodeError:
            abort(400, messages={"json": ["Invalid JSON body: not UTF-8."]})
        except json.JSONDecodeError as error:
            abort(400, messages={"json": [f"Invalid JSON body: {error.msg}."]})


class Blueprint(flask_smorest.Blueprint):  # type: ignore[misc]
    """flask-smorest's Blueprint, parsing bodies strictly: every API module's."""

    ARGUMENTS_PARSER = StrictParser()

"""What the OpenAPI document must say about the request schemas that apispec cannot derive
from the marshmallow fields.

- **A nullable nested schema.** apispec writes ``fields.Nested(..., allow_none=True)`` as
  ``anyOf: [{type: object, nullable: true}, {$ref: …}]``: that branch takes *any* object, so
  the document allowed a ``location`` or a webhook ``filter`` with made-up keys that the server
  then refused. OpenAPI 3.0.3's own form is ``{allOf: [{$ref: …}], nullable: true}``.
- **Text is not blank.** The domain strips text and refuses what is left empty (``"  "`` as a
  title); a length of 1 or more does not say so, a pattern (some character that is not a
  space) does.
"""

from __future__ import annotations

from typing import Any

from flask_smorest import Api

ANY_OBJECT_OR_NULL = {"type": "object", "nullable": True}
# Some character that str.strip() keeps, spelt out: ``\S`` means less in ECMA's regexes
# (which schemathesis and JavaScript clients use) than in Python's (\x1c to \x1f, \x85).
NOT_BLANK = r"[^\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


def tighten(api: Api) -> None:
    """Rewrite the document's schemas (call once every blueprint is registered)."""
    for schema in api.spec.components.schemas.values():
        _walk(schema)


def _walk(node: Any) -> None:
    if isinstance(node, dict):
        if _free_text(node):
            node["pattern"] = NOT_BLANK
        for key, value in list(node.items()):
            reference = _nullable_reference(value)
            if reference is not None:
                rest = {k: v for k, v in value.items() if k != "anyOf"}
                node[key] = {**rest, "allOf": [reference], "nullable": True}
            else:
                _walk(value)
    elif isinstance(node, list):
        for value in node:
            _walk(value)


def _nullable_reference(node: Any) -> dict[str, Any] | None:
    branches = node.get("anyOf") if isinstance(node, dict) else None
    if not isinstance(branches, list) or len(branches) != 2 or ANY_OBJECT_OR_NULL not in branches:
        return None
    other = branches[1] if branches[0] == ANY_OBJECT_OR_NULL else branches[0]
    return other if set(other) == {"$ref"} else None


def _free_text(node: dict[str, Any]) -> bool:
    """A string that must hold something, with no other rule on its form."""
    return (
        node.get("type") == "string"
        and node.get("minLength", 0) >= 1
        and not {"pattern", "format", "enum", "anyOf"} & set(node)
    )

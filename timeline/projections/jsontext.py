"""JSON text for read-model columns: compact, UTF-8 kept as is, and fast (orjson).

Read models store items ready to serve and small JSON values; encoding them with the standard
library took about a tenth of catch-up time.
"""

from __future__ import annotations

from typing import Any

import orjson


def dumps(value: Any) -> str:
    """Compact JSON text of plain data (the same document ``json.dumps`` would give)."""
    return orjson.dumps(value).decode()


def loads(text: str | bytes) -> Any:
    """Plain data from JSON text."""
    return orjson.loads(text)

"""schemathesis hooks for the contract run (``make contract``): the API key, and the check
that a schema-valid request is refused only for a rule the document names in prose.

Some rules cannot be said in a schema (``from`` after ``to``, ``min_position`` beyond the log's
head, an ``If-Match`` that no longer holds, a webhook host that does not resolve …); each is a
documented error response (``api.refusals``). schemathesis's own ``positive_data_acceptance``
can only allow a status, so it is told to allow 400/412/422 (``schemathesis.toml``); this check
puts the precision back: such a refusal must carry one of the messages of those rules, and any
other refusal of a schema-valid request is a gap between the document and the server.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any

import schemathesis

# The refusals of schema-valid requests the document explains, by the message the server gives.
DOCUMENTED = [
    re.compile(rule)
    for rule in (
        r"^Must be at most \d+, the log's head\.$",  # min_position, Last-Event-ID
        r"^Invalid cursor\.$",
        r"^'from' must not be after 'to'\.$",
        r" is at version \d+, not the version If-Match names",
        r"^Name the incident this one duplicates\.$",
        r"^An incident cannot duplicate itself\.$",
        r"^Cannot be later than now",  # stated_at, published_at
        r"^The host '.*' does not resolve",  # a webhook's url
        r"^The host in brackets is not an IPv6 address\.$",
        r"^Give a url or a reference \(one of them\)\.$",
        r"^End must not be before start\.$",
        r"^A namespace is lowercase: ",  # external_ids' keys (OpenAPI 3.0 has no propertyNames)
        r"^No incident \S+ to be a duplicate of\.$",
        r"^No statement \S+ in this incident; responds_to must name one\.$",
        r"^bbox is min_lon,min_lat,max_lon,max_lat with min <= max\.$",
        r"^(low|high) must not be (greater|less) than (value|high)\.$",
        r"^Flags are set by the service, not sent\.$",  # /batch: flags only with as_published
        r"^Property names are 1 to \d+ characters\.$",  # OpenAPI 3.0 has no propertyNames
        r"^Only a duplicate names the incident it repeats\.$",
        r"^Required to report a new incident\.$",  # /batch: an item naming no incident held
        r"^Name the place \(only a source recorded as published may leave it unnamed\)\.$",
        r"^(claimant|source)_side groups (figures|statements) only\.$",
        r"^An incident cannot be linked to itself\.$",  # POST /links: the two incidents
        r"^at_position replays the log as recorded: ",  # beside as_of or clock=stated
        r"^dedupe=linked groups by the links held now: not with at_position\.$",
    )
]
STATE_OR_RELATION = {400, 412, 422}


@schemathesis.auth()
class ApiKey:
    """The key from ``CONTRACT_API_KEY`` (an admin key: every operation is reachable).

    A programmatic auth rather than a fixed header (``-H``) or ``[auth.openapi]``: those are
    sent even on the requests that leave the credentials out on purpose (schemathesis issue
    #2898), which would make the check that a missing ``Authorization`` gets 401 test nothing.
    """

    def get(self, case: Any, context: Any) -> str:
        return os.environ["CONTRACT_API_KEY"]

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


@schemathesis.check
def refused_only_for_documented_rules(ctx: Any, response: Any, case: Any) -> bool | None:
    """A schema-valid request refused with 400/412/422 names a documented rule."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if response.status_code not in STATE_OR_RELATION:
        return None
    try:
        body = json.loads(response.text)
    except ValueError:
        raise AssertionError(f"{response.status_code} without a JSON error body") from None
    refused = [item.get("message") for item in body.get("refused", [])]  # /batch: per item
    messages = list(_messages([body.get("errors"), refused])) or [str(body.get("message"))]
    unexplained = [m for m in messages if not any(rule.search(m) for rule in DOCUMENTED)]
    if unexplained:
        raise AssertionError(
            f"Schema-valid request refused ({response.status_code}) for a rule the document "
            f"does not state: {unexplained[:3]}"
        )
    return None


def _messages(errors: Any) -> Iterator[str]:
    if isinstance(errors, dict):
        for value in errors.values():
            yield from _messages(value)
    elif isinstance(errors, list):
        for value in errors:
            yield from _messages(value)
    elif isinstance(errors, str):
        yield errors

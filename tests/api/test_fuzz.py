"""A bounded fuzz of the whole API from its own OpenAPI document (schemathesis).

Every operation gets generated valid and invalid input, with an admin key. The answer must never
be a 5xx, and must match the documented schema for its status code.
"""

from __future__ import annotations

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from api import create_app
from tests.conftest import ADMIN_KEY
from timeline.bootstrap import Services

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
CHECKS = [not_a_server_error, response_schema_conformance]


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """One backend is enough to find contract faults; storage has its own tests."""
    return str(request.param)


@pytest.fixture
def fuzzed_app(services: Services) -> Flask:
    """The app, with live-feed connections that close at once (the fuzzer opens many)."""
    quick = services.settings.with_changes(stream_seconds=0.05, min_position_wait=0.05)
    services.settings = quick
    return create_app(services=services)


def test_no_server_errors_and_answers_match_the_schema(fuzzed_app: Flask) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzzed_app)
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 28  # the whole contract, not a document that failed to load
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=12,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def call(case: Case) -> None:
            case.call_and_validate(headers=ADMIN, checks=CHECKS)

        try:
            call()
        except Exception as failure:  # one line per failing operation, all reported together
            failures[operation.label] = str(failure)[:2000]
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())

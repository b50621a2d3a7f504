"""Rate limits per key in Redis: 429 with Retry-After, a budget per key, Redis down = no limit."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from api import create_app
from tests.conftest import READ_KEY, WRITE_KEY
from tests.proxy import Proxy
from timeline.config import ConfigError, Settings

READER = {"Authorization": f"Bearer {READ_KEY}"}
WRITER = {"Authorization": f"Bearer {WRITE_KEY}"}


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """Limits live in Redis; the storage backend does not matter."""
    return str(request.param)


@pytest.fixture
def limited(settings: Settings) -> FlaskClient:
    """A client of an app allowing three requests a minute per key."""
    return create_app(settings.with_changes(rate_limit="3/minute")).test_client()


def test_over_the_limit_is_a_429_with_retry_after(limited: FlaskClient) -> None:
    for _ in range(3):
        assert limited.get("/api/v1/timeline", headers=READER).status_code == 200
    refused = limited.get("/api/v1/timeline", headers=READER)
    assert refused.status_code == 429
    assert refused.json["code"] == 429
    assert "Too many requests" in refused.json["message"]
    assert 0 < int(refused.headers["Retry-After"]) <= 60


def test_each_key_has_its_own_budget_and_health_is_never_limited(limited: FlaskClient) -> None:
    for _ in range(3):
        limited.get("/api/v1/timeline", headers=READER)
    assert limited.get("/api/v1/timeline", headers=READER).status_code == 429
    assert limited.get("/api/v1/timeline", headers=WRITER).status_code == 200
    assert limited.get("/api/v1/timeline").status_code == 200  # by address, separately
    for _ in range(10):
        assert limited.get("/api/v1/health", headers=READER).status_code == 200


def test_with_redis_down_requests_are_not_limited(settings: Settings, redis_url: str) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(redis_url)
    proxy = Proxy((parts.hostname or "127.0.0.1", parts.port or 6379))
    url = redis_url.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{proxy.port}")
    client = create_app(settings.with_changes(rate_limit="3/minute", redis_url=url)).test_client()
    proxy.cut()
    for _ in range(5):
        assert client.get("/api/v1/timeline", headers=READER).status_code == 200


def test_a_malformed_limit_is_refused_naming_the_setting(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="TIMELINE_RATE_LIMIT"):
        create_app(settings.with_changes(rate_limit="lots"))
    assert Settings.from_env({"TIMELINE_RATE_LIMIT": "off"}).rate_limit is None

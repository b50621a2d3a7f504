"""Rate limits per key in Redis: 429 with Retry-After, a budget per key, Redis down = no limit."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from api import create_app
from tests.conftest import READ_KEY, WRITE_KEY
from tests.proxy import Proxy
from timeline.config import ConfigError, Settings, parse_networks

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


def test_an_invalid_token_is_a_401_before_any_budget_is_made(
    limited: FlaskClient, settings: Settings, redis_url: str
) -> None:
    import redis

    store = redis.Redis.from_url(redis_url)
    before = set(store.scan_iter("timeline-limits*"))
    for n in range(20):  # a random token per request no longer buys a fresh budget
        answer = limited.get("/api/v1/timeline", headers={"Authorization": f"Bearer forged-{n}"})
        assert answer.status_code == 401 and answer.json["code"] == 401
    assert set(store.scan_iter("timeline-limits*")) == before  # no bucket made
    assert limited.get("/api/v1/timeline").status_code == 200  # no key at all: still a reader


def test_one_budget_per_key_across_every_endpoint(limited: FlaskClient) -> None:
    for url in ("/api/v1/timeline", "/api/v1/incidents", "/api/v1/sources"):
        assert limited.get(url, headers=READER).status_code == 200
    assert limited.get("/api/v1/claims", headers=READER).status_code == 429


def test_a_stricter_limit_per_endpoint_may_be_added(settings: Settings) -> None:
    client = create_app(
        settings.with_changes(rate_limit="100/minute", rate_limit_per_endpoint="2/minute")
    ).test_client()
    for _ in range(2):
        assert client.get("/api/v1/timeline", headers=READER).status_code == 200
    assert client.get("/api/v1/timeline", headers=READER).status_code == 429
    assert client.get("/api/v1/incidents", headers=READER).status_code == 200


def test_forwarded_addresses_count_only_behind_a_trusted_proxy(settings: Settings) -> None:
    def client(trusted: str) -> FlaskClient:
        limited = settings.with_changes(
            rate_limit="2/minute", trusted_proxies=parse_networks(trusted, "TRUSTED_PROXIES")
        )
        return create_app(limited).test_client()

    def ask(c: FlaskClient, forwarded: str) -> int:
        return c.get("/api/v1/timeline", headers={"X-Forwarded-For": forwarded}).status_code

    direct = client("")  # X-Forwarded-For is anyone's to forge: ignored
    assert [ask(direct, f"198.51.100.{n}") for n in range(3)] == [200, 200, 429]
    proxied = client("127.0.0.0/8")  # (the test client's address)
    assert [ask(proxied, "203.0.113.7") for _ in range(3)] == [200, 200, 429]
    assert ask(proxied, "203.0.113.8") == 200  # another caller behind the proxy
    # a client cannot pick its own bucket by adding a forged hop: the last untrusted one counts
    assert ask(proxied, "198.51.100.1, 203.0.113.7") == 429
    # IPv6 callers count by their /64 (one host holds billions of addresses)
    assert [ask(proxied, f"2001:db8:1:2::{n:x}") for n in range(3)] == [200, 200, 429]


def test_retry_after_comes_only_with_a_refusal(limited: FlaskClient) -> None:
    answers = [limited.get("/api/v1/timeline", headers=READER) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert ["Retry-After" in a.headers for a in answers] == [False, False, False, True]
    assert "X-RateLimit-Remaining" in answers[0].headers

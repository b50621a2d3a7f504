"""The SSRF guard's address rules, the retry schedule and Retry-After parsing."""

from __future__ import annotations

import ipaddress
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from timeline.webhooks.addresses import UnsafeAddress, checked_addresses, is_public
from timeline.webhooks.policy import parse_retry_after, retry_delay

SCHEDULE = (5.0, 300.0, 1800.0)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "ff02::1",
        # IPv6 forms that carry an IPv4 address a gateway or the host may turn back into it
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b::5db8:d70e",  # NAT64 of a public address: refused too (deny by default)
        "64:ff9b:1::a9fe:a9fe",  # local-use NAT64
        "2002:a9fe:a9fe::",  # 6to4
        "2002:5db8:d70e::1",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "::7f00:1",  # IPv4-compatible ::127.0.0.1
        "::127.0.0.1",
        "::5db8:d70e",
    ],
)
def test_internal_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111"])
def test_routable_unicast_addresses_are_public(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://10.0.0.8:8080/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:9000/hook",
        "https://localhost/hook",
        "http://2130706433/hook",  # 127.0.0.1 written as one number
    ],
)
def test_urls_to_internal_hosts_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(UnsafeAddress) as refused:
        checked_addresses(url, allow_private=False)
    assert refused.value.field == "url"
    assert checked_addresses(url, allow_private=True)


def test_port_zero_is_refused_even_where_private_addresses_are_allowed() -> None:
    for url in ("http://93.184.215.14:0/hook", "http://[2606:4700:4700::1111]:0/h"):
        with pytest.raises(UnsafeAddress, match="port"):
            checked_addresses(url, allow_private=True)


def test_the_schedule_grows_with_jitter_and_ends() -> None:
    rng = random.Random(7)
    delays = [retry_delay(n, SCHEDULE, rng=rng) for n in (1, 2, 3, 4)]
    assert delays[3] is None
    for delay, base in zip(delays[:3], SCHEDULE, strict=True):
        assert delay is not None and 0.8 * base <= delay <= 1.2 * base


def test_retry_after_wins_when_longer_and_is_capped() -> None:
    assert retry_delay(1, SCHEDULE, retry_after=60) == 60
    assert retry_delay(1, SCHEDULE, retry_after=10**9) == 24 * 3600
    short = retry_delay(2, SCHEDULE, retry_after=1, rng=random.Random(1))
    assert short is not None and short >= 240


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120
    later = format_datetime(now + timedelta(minutes=2), usegmt=True)
    assert parse_retry_after(later, now=now) == 120
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None

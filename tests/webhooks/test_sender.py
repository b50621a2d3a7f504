"""The sender's guard at connect time: it refuses internal addresses and never re-asks DNS."""

from __future__ import annotations

import ipaddress

from tests.webhooks.receiver import Receiver
from timeline.webhooks.sender import _PinnedConnection, post


def test_the_guard_is_applied_again_when_sending(receiver: Receiver) -> None:
    # A subscription made while private addresses were allowed, sent after they no longer are
    # (or a name that now resolves to loopback): nothing reaches the receiver.
    outcome = post(receiver.url, b"{}", {}, timeout=1, allow_private=False)
    assert not outcome.ok
    assert outcome.status_code is None
    assert "public addresses only" in (outcome.error or "")
    assert receiver.received == []


def test_the_connection_goes_to_the_checked_address_whatever_the_name_resolves_to(
    receiver: Receiver,
) -> None:
    # The hostname does not resolve at all: only the pinned, already-checked address is used,
    # so a DNS answer that changes after the check (rebinding) is never consulted.
    port = receiver.server.server_address[1]
    pinned = _PinnedConnection(
        "rebinding.invalid", port, [ipaddress.ip_address("127.0.0.1")], timeout=2
    )
    pinned.request("POST", "/hook", body=b"{}", headers={"Content-Length": "2"})
    assert pinned.getresponse().status == 200
    pinned.close()
    assert receiver.received[0].headers["host"] == f"rebinding.invalid:{port}"


def test_an_unresolvable_host_is_a_recorded_failure_not_a_crash() -> None:
    outcome = post("https://no-such-host.invalid/hook", b"{}", {}, timeout=1, allow_private=False)
    assert outcome.status_code is None
    assert "does not resolve" in (outcome.error or "")

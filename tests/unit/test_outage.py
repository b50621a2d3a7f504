"""The database gate: one failure makes calls probe; a failed probe makes them fail at once."""

from __future__ import annotations

import threading

import pytest

from timeline.outage import DatabaseGate, DatabaseUnavailable


class Server:
    """A probe target that is up or down, counting probes; the clock is moved by hand."""

    def __init__(self) -> None:
        self.up = True
        self.probes = 0
        self.now = 0.0

    def probe(self) -> None:
        self.probes += 1
        if not self.up:
            raise ConnectionRefusedError("connection refused")

    def clock(self) -> float:
        return self.now


@pytest.fixture
def server() -> Server:
    return Server()


@pytest.fixture
def gate(server: Server) -> DatabaseGate:
    return DatabaseGate(server.probe, interval=1.0, clock=server.clock)


def confirm_outage(server: Server, gate: DatabaseGate) -> None:
    """The server goes down, a call fails and trips the gate, the first probe confirms it."""
    server.up = False
    gate.trip(TimeoutError("couldn't get a connection after 5.00 sec"))
    with pytest.raises(DatabaseUnavailable, match="connection refused"):
        gate.check()


def test_calls_go_ahead_without_probing_until_something_fails(
    server: Server, gate: DatabaseGate
) -> None:
    for _ in range(3):
        gate.check()
    assert server.probes == 0


def test_after_a_failure_a_down_server_fails_calls_at_once_probing_once_per_interval(
    server: Server, gate: DatabaseGate
) -> None:
    confirm_outage(server, gate)
    for _ in range(10):  # within the interval: no more probes, still refused
        with pytest.raises(DatabaseUnavailable):
            gate.check()
    assert server.probes == 1

    server.now += 1.0
    with pytest.raises(DatabaseUnavailable):
        gate.check()
    assert server.probes == 2


def test_the_first_probe_that_reaches_the_server_closes_the_gate(
    server: Server, gate: DatabaseGate
) -> None:
    confirm_outage(server, gate)

    server.up = True
    with pytest.raises(DatabaseUnavailable):  # the interval has not passed: not probed yet
        gate.check()
    server.now += 1.0
    gate.check()
    gate.check()  # closed: no probe, no error
    assert server.probes == 2


def test_a_timeout_with_the_server_up_costs_one_probe_and_no_error(
    server: Server, gate: DatabaseGate
) -> None:
    gate.trip(TimeoutError("couldn't get a connection after 5.00 sec"))  # a busy pool
    gate.check()
    gate.check()
    assert server.probes == 1


def test_while_one_call_probes_a_known_down_server_the_others_do_not_wait(
    server: Server,
) -> None:
    probing, release = threading.Event(), threading.Event()

    def slow_probe() -> None:  # a server that swallows packets: the probe hangs a while
        probing.set()
        release.wait(10)
        raise TimeoutError("connection timeout expired")

    gate = DatabaseGate(slow_probe, interval=1.0, clock=server.clock)
    gate.trip(TimeoutError("pool timeout"))
    release.set()
    with pytest.raises(DatabaseUnavailable):  # the first probe confirms the outage
        gate.check()
    release.clear()
    probing.clear()

    server.now += 1.0
    verdicts: list[BaseException | None] = []

    def check_in_thread() -> None:
        try:
            gate.check()
            verdicts.append(None)
        except DatabaseUnavailable as error:
            verdicts.append(error)

    prober = threading.Thread(target=check_in_thread)
    prober.start()
    assert probing.wait(10)
    with pytest.raises(DatabaseUnavailable, match="connection timeout expired"):
        gate.check()  # answered while the second probe is still hanging
    release.set()
    prober.join(10)
    assert len(verdicts) == 1 and isinstance(verdicts[0], DatabaseUnavailable)


def test_a_trip_while_tripped_keeps_the_outage_confirmed(
    server: Server, gate: DatabaseGate
) -> None:
    confirm_outage(server, gate)
    gate.trip(TimeoutError("another pool timeout"))
    with pytest.raises(DatabaseUnavailable):
        gate.check()
    assert server.probes == 1


def test_watching_trips_on_the_given_errors_only(server: Server, gate: DatabaseGate) -> None:
    with pytest.raises(ValueError), gate.watching(ConnectionError):
        raise ValueError("a bug, not an outage")
    gate.check()
    assert server.probes == 0

    server.up = False
    with pytest.raises(ConnectionError), gate.watching(ConnectionError):
        raise ConnectionError("server closed the connection")
    with pytest.raises(DatabaseUnavailable), gate.watching(ConnectionError):
        pass  # refused before the body runs
    assert server.probes == 1

"""The supervisor with real child processes: restarts with back-off, gives up on a child that
cannot be kept up (stopping the others, exit status 1), and says what each child is doing."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from timeline.supervision import MAX_QUICK_FAILURES, Child, Supervisor, read_status

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
FAILING = [sys.executable, "-c", "raise SystemExit(3)"]


def test_a_child_that_keeps_failing_stops_the_service_saying_why(tmp_path: Path) -> None:
    said: list[str] = []
    steady, failing = Child("steady", SLEEPER, "rq-worker"), Child("broken", FAILING, "redis")
    status = tmp_path / "status.json"
    supervisor = Supervisor([steady, failing], os.environ, said.append, status, first_delay=0.01)
    code = supervisor.run(poll=0.01)
    assert code == 1
    assert said[-1].startswith(f"stopping: broken exited {MAX_QUICK_FAILURES} times in a row")
    assert sum("broken (pid" in line for line in said) == MAX_QUICK_FAILURES - 1
    assert steady.process is not None and steady.process.poll() is not None  # stopped with it
    assert failing.restarts == MAX_QUICK_FAILURES - 1 and failing.last_exit == 3
    assert not status.exists()  # a stopped service leaves no status behind


def test_the_status_file_names_each_child_and_its_restarts(tmp_path: Path) -> None:
    status = tmp_path / "status.json"
    child = Child("worker", SLEEPER, "rq-worker")
    supervisor = Supervisor([child], os.environ, lambda _: None, status, first_delay=0.01)
    runner = threading.Thread(target=supervisor.tend_until_stopped, daemon=True)
    runner.start()
    try:
        _wait(lambda: child.process is not None)
        first = child.process
        assert first is not None
        os.kill(first.pid, signal.SIGKILL)
        _wait(lambda: child.restarts == 1 and child.process not in (None, first))
        # (the file is replaced just after the new process starts: wait for that version)
        _wait(lambda: _states(status) == ["running"])
        written = read_status(status)
        assert written is not None
        (described,) = written["children"]
        assert described["restarts"] == 1 and described["last_exit"] == -signal.SIGKILL
        assert described["state"] == "running" and described["kind"] == "rq-worker"
        assert json.loads(status.read_text())["supervisor"] == os.getpid()
    finally:
        supervisor.stopping = True
        runner.join(timeout=15)
        supervisor.stop_all()


def _states(status: Path) -> list[str]:
    """The states the status file gives its children (none while there is no file)."""
    written = read_status(status)
    return [child["state"] for child in written["children"]] if written else []


def _wait(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_the_child_others_use_is_stopped_after_them(tmp_path: Path) -> None:
    """A worker stopping still reaches the embedded Redis: it is stopped last (the worker
    takes its time to stop; were both signalled at once, the server would note first)."""
    order = tmp_path / "order"

    def noting(name: str, pause: float) -> list[str]:
        script = (
            "import signal, sys, time\n"
            "def stop(*_):\n"
            f"    time.sleep({pause}); open({str(order)!r}, 'a').write({name!r} + ' ')\n"
            "    sys.exit(0)\n"
            "signal.signal(signal.SIGTERM, stop)\n"
            "open(sys.argv[1], 'w').close()\n"
            "time.sleep(60)\n"
        )
        return [sys.executable, "-c", script, str(tmp_path / f"{name}.ready")]

    server = Child("server", noting("server", 0), "redis", serves_others=True)
    worker = Child("worker", noting("worker", 0.5), "rq-worker")
    supervisor = Supervisor([server, worker], os.environ, lambda _: None)
    supervisor.tend(time.monotonic())
    _wait(lambda: all((tmp_path / f"{n}.ready").exists() for n in ("server", "worker")))
    supervisor.stop_all()
    assert order.read_text().split() == ["worker", "server"]

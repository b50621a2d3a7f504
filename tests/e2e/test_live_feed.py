"""The live feed as a real `timeline serve` runs it: many streams cannot take the API down."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import WRITE_KEY
from tests.e2e.processes import clean_env, serving
from tests.factories import a_statement, as_json

pytestmark = pytest.mark.e2e

# Many more streams than a thread worker had request threads (8); one web worker, as the
# caps are per server process.
STREAMS = 60
PER_CALLER = STREAMS + 2


@pytest.fixture
def served(tmp_path: Path, redis_url: str) -> Iterator[str]:
    """`timeline serve` with the demo, 1 web worker, a cap per caller just above STREAMS."""
    env = clean_env(data_dir=str(tmp_path / "var"), api_keys=f"write:{WRITE_KEY}",
                    redis_url=redis_url, queue=f"live-{tmp_path.name}", rate_limit="off",
                    stream_max_per_caller=str(PER_CALLER))  # fmt: skip
    log = tmp_path / "serve.log"
    try:
        with serving(["--demo", "--web-workers", "1"], env, log) as base:
            yield base
    finally:
        print(log.read_text()[-3000:])


def open_stream(base: str, after: int = 0) -> socket.socket:
    """A live-feed request on a raw socket, its headers and first frame read."""
    host, port = base.removeprefix("http://").split("/")[0].split(":")
    client = socket.create_connection((host, int(port)), timeout=10)
    client.sendall(f"GET /api/v1/events/stream?after={after} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    first = client.recv(4096)
    assert first.startswith(b"HTTP/1.1 200") and b"text/event-stream" in first, first[:300]
    return client


def read_until(client: socket.socket, needle: bytes, seconds: float) -> bytes:
    client.settimeout(seconds)
    seen = b""
    deadline = time.monotonic() + seconds
    while needle not in seen and time.monotonic() < deadline:
        seen += client.recv(65536)
    return seen


def test_many_open_streams_leave_the_api_answering_and_all_get_new_events(served: str) -> None:
    streams = [open_stream(served) for _ in range(STREAMS)]
    try:
        for path in ("/health", "/timeline", "/incidents?limit=5"):
            assert requests.get(served + path, timeout=3).ok, path
        incident = requests.get(f"{served}/incidents?limit=1", timeout=5).json()["items"][0]
        said = requests.post(
            f"{served}/incidents/{incident['id']}/statements",
            json=as_json(a_statement(text="Heard by every stream")),
            headers={"Authorization": f"Bearer {WRITE_KEY}"},
            timeout=5,
        )
        assert said.status_code == 201, said.text
        for client in streams:
            assert b"Heard by every stream" in read_until(client, b"Heard by every stream", 5)
        # beyond the cap per caller: a 503 with Retry-After, not a held thread
        extra = [open_stream(served) for _ in range(PER_CALLER - STREAMS)]
        refused = requests.get(f"{served}/events/stream", timeout=5, stream=True)
        assert refused.status_code == 503 and refused.headers["Retry-After"]
        assert "live-feed streams" in refused.json()["message"]
        for client in extra:
            client.close()
    finally:
        for client in streams:
            client.close()


def test_a_closed_client_frees_its_place_at_once(served: str) -> None:
    for _ in range(3):  # each round fills the cap; it is only possible if the last one freed it
        streams = [open_stream(served) for _ in range(PER_CALLER)]
        for client in streams:
            client.close()
        time.sleep(0.5)
    refusal = requests.get(f"{served}/events/stream?after=999999", timeout=5)
    assert refusal.status_code == 422  # (checks still run before any place is taken)

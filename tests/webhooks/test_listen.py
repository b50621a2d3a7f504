"""`timeline listen`: a receiver that verifies deliveries and prints them."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import requests

from tests.e2e.processes import clean_env, free_port, wait_until
from timeline.subscriptions import new_secret
from timeline.webhooks.signing import signed_headers


def test_listen_verifies_and_prints_deliveries(tmp_path: Path) -> None:
    secret, port = new_secret(), free_port()
    log = tmp_path / "listen.log"
    with log.open("wb") as out:
        listener = subprocess.Popen(
            [sys.executable, "-m", "cli", "listen", "--port", str(port), "--secret", secret],
            env={**clean_env(), "COLUMNS": "200"}, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}/hook"
    try:
        wait_until(lambda: "listening" in log.read_text(), 20, "the listener")
        body = json.dumps({"type": "statement.recorded", "data": {"text": "Heard"}})
        headers = signed_headers("msg_1", [secret], body, datetime.now(UTC))
        assert requests.post(url, data=body, headers=headers, timeout=5).status_code == 204
        forged = body.replace("Heard", "Forged")
        assert requests.post(url, data=forged, headers=headers, timeout=5).status_code == 401
        other = signed_headers("msg_2", [new_secret()], body, datetime.now(UTC))
        assert requests.post(url, data=body, headers=other, timeout=5).status_code == 401
    finally:
        listener.terminate()
        listener.wait(10)
    shown = log.read_text()
    assert "✓ statement.recorded msg_1 (signature verified)" in shown and '"Heard"' in shown
    assert "✗ msg_1: not verified" in shown and "✗ msg_2: not verified" in shown
    assert "Forged" not in shown


def test_listen_refuses_a_malformed_secret() -> None:
    done = subprocess.run([sys.executable, "-m", "cli", "listen", "--secret", "whsec_%%%"],
                          env=clean_env(), capture_output=True, text=True, timeout=30)  # fmt: skip
    assert done.returncode == 2 and "secret" in done.stderr.lower()

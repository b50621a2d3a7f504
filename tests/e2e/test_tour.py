"""The README's tour, run as written — every `sh` block from "A five-minute tour" to
"Configuration", in order, in one shell — against a served instance with the demo data.

Only the two ports are changed (the tour's `PORT=` and `HOOK_PORT=` lines). Each curl call's
status is recorded through a curlrc of the test's own (`-w` to stderr), so a step that starts
answering an error, a command that fails, or an output the README promises that no longer
comes, fails here.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.processes import clean_env, free_port, serving

pytestmark = [pytest.mark.e2e, pytest.mark.own_services]

ROOT = Path(__file__).parents[2]
STATUS = re.compile(r"^HTTP (\d{3}) (\S+) (\S+)$", re.M)


def tour_script(port: int, hook_port: int) -> str:
    """The README's tour as one script, on the given ports."""
    readme = ROOT.joinpath("README.md").read_text()
    tour = readme[readme.index("## A five-minute tour") : readme.index("## Configuration")]
    script = "\n" + "\n".join(re.findall(r"^```sh\n(.*?)^```", tour, re.M | re.S))
    assert script.count("\nPORT=8000 ") == 1 and script.count("\nHOOK_PORT=9000 ") == 1
    script = script.replace("\nPORT=8000 ", f"\nPORT={port} ")
    return script.replace("\nHOOK_PORT=9000 ", f"\nHOOK_PORT={hook_port} ")


@pytest.fixture
def tour(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The tour run in a directory laid out like a checkout (.venv, examples) after `make run`."""
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    status_line = "%{stderr}HTTP %{http_code} %{method} %{url_effective}\\n"
    (tmp_path / ".curlrc").write_text(f'-w "{status_line}"\n')
    env = clean_env(
        data_dir=str(tmp_path / "var"),
        api_keys="admin:demo-admin-key,write:demo-write-key,read:demo-read-key",
        webhook_allow_private="yes",
    )
    log = tmp_path / "serve.log"
    try:
        with serving(["--demo"], env, log) as base:
            port = int(base.split(":")[2].split("/")[0])
            # Every command that fails is named on stderr; the script goes on, as a person would.
            trap = """trap 'echo "FAILED $? $BASH_COMMAND" >&2' ERR\nset -o pipefail\n"""
            script = trap + tour_script(port, free_port())
            return subprocess.run(
                ["bash", "-c", script], cwd=tmp_path, env={**env, "CURL_HOME": str(tmp_path)},
                capture_output=True, text=True, timeout=300,
            )  # fmt: skip
    finally:
        print(log.read_text()[-3000:])


def test_the_readme_tour_runs_as_written(tour: subprocess.CompletedProcess[str]) -> None:
    out, err = tour.stdout, tour.stderr
    failed = re.findall(r"^FAILED (\d+) (.*)$", err, re.M)
    # curl's 28: the live feed's --max-time ending it, as the README says
    assert failed == [("28", 'curl -sN --max-time 5 "$API/events/stream" -H "Last-Event-ID: 10"')]
    assert "Traceback" not in out + err
    answered = [(int(code), method, url) for code, method, url in STATUS.findall(err)]
    assert len(answered) > 50
    refused = [(code, method, url.split("/api/v1")[1]) for code, method, url in answered
               if not 200 <= code < 300]  # fmt: skip
    kramatorsk = "/incidents/96daf6d6-fe36-5d46-b267-e08859f5c46b"
    assert refused == [
        (404, "GET", kramatorsk + refused[0][2].removeprefix(kramatorsk)),  # as_of before the demo
        (422, "POST", kramatorsk + "/statements"),  # the time without a UTC offset
        (415, "POST", kramatorsk + "/statements"),  # the body without a JSON content type
    ]
    assert "as_of=" in refused[0][2]

    # What the README says each step shows
    assert '"status": "violated"' in out  # the Christmas ceasefire
    assert '"ucdp-ged": "900101"' in out  # the dataset's id looked up
    imported = re.findall(r"^imported .*$", err, re.M)
    assert imported == [
        "imported 4 row(s): 4 reported",
        "imported 4 row(s): 4 unchanged",
        "imported 6 row(s): 6 reported",
        "imported 6 row(s): 4 listed, 1 reported, 1 restated",
        "imported 6 row(s): 6 unchanged",
        "imported 5 row(s): 5 reported",
        "imported 35 row(s): 35 reported",  # the same thirty events in three datasets
        "imported 30 row(s): 30 reported",
        "imported 20 row(s): 20 reported",
    ]
    assert (
        "release of acled at 2023-07-31T00:00:00.000000+00:00: 6 id(s) listed, recorded; "
        "1 retired" in err
    )
    assert '"rows": 6' in out and '"removed": 0' in out  # GET /releases: one release so far
    # country=UA&actor=RU: the demo's incidents and ACLED's and UCDP's rows alike
    assert "Kramatorsk" in out and "Shelling/artillery/missile attack: Kherson" in out
    # The receiver printed the first delivery, then the replay once the subscription resumed
    delivered = re.findall(r"^✓ statement\.recorded (msg_\d+)", out, re.M)
    assert len(delivered) > len(set(delivered)) >= 1
    assert "The subscription is paused: the queued deliveries are sent once it is active" in out
    # What the July release changed: the row it left out, retired
    assert re.search(r"^retired UKR\d+ \[\]$", out, re.M)
    # The export's citation holds; the proposals say why; the group's figures compete
    assert "gives the cited bytes" in err and "is untouched" in err
    assert "km apart" in out and "'range':" in out
    assert re.search(r"^\d+ proposal\(s\) scoring at least 0.55$", err, re.M)
    assert re.search(r"^\d+ pair\(s\) linked$", err, re.M)


def test_the_examples_are_clean_releases() -> None:
    """Every example file goes in whole: no refused row (checked by the tour's outputs above,
    and here that each format's file exists where the README names it)."""
    readme = ROOT.joinpath("README.md").read_text()
    named = set(re.findall(r"examples/[\w./-]+\.\w+", readme))
    assert named and all((ROOT / name).is_file() for name in named), named

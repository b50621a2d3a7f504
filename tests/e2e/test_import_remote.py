"""`timeline import --url` into a running `timeline serve`, and `timeline export --url` out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import WRITE_KEY
from tests.datasets import FIXTURES
from tests.e2e.processes import clean_env, free_port, serving, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.own_services]
ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], cwd=ROOT, env=clean_env(), capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip


def test_import_into_a_served_api_and_export_from_it(tmp_path: Path) -> None:
    env = clean_env(data_dir=str(tmp_path / "var"), api_keys=f"write:{WRITE_KEY}")
    log = tmp_path / "serve.log"
    data = FIXTURES / "acled" / "current.csv"
    with serving([], env, log) as api:
        url = api.removesuffix("/api/v1")
        refused = cli("import", "acled", str(data), "--url", url, "--key", "wrong",
                      "--on-error", "skip", "--report", str(tmp_path / "r.csv"))  # fmt: skip
        assert refused.returncode == 1 and "401" in refused.stderr, refused.stderr
        assert "nothing was written" in refused.stderr and "before it" not in refused.stderr
        # the API's own address (as the banner prints it) is as good as the service's base
        imported = cli("import", "acled", str(data), "--url", api, "--key", WRITE_KEY,
                       "--on-error", "skip", "--report", str(tmp_path / "r.csv"))  # fmt: skip
        assert imported.returncode == 3, imported.stderr  # the bad rows left out
        assert "26 reported" in imported.stderr

        def listed() -> bool:
            page = requests.get(f"{api}/incidents", params={"namespace": "acled"}, timeout=5)
            return len(page.json()["items"]) == 26

        wait_until(listed, 20, "the imported incidents on the listing")
        again = cli("import", "acled", str(data), "--url", url, "--key", WRITE_KEY,
                    "--on-error", "skip", "--report", str(tmp_path / "r.csv"))  # fmt: skip
        assert again.returncode == 3 and "27 unchanged" in again.stderr, again.stderr
        out = tmp_path / "out.csv"
        exported = cli("export", "--url", url, "--format", "csv", "-o", str(out))
        assert exported.returncode == 0, exported.stderr
        assert len(out.read_text().splitlines()) == 1 + 26
        # A whole release through the API (POST /batch, then POST /releases), dated now: the
        # namespace's rows it does not list are retired as of now
        release = cli("import", "acled", str(ROOT / "examples" / "acled.csv"), "--url", url,
                      "--key", WRITE_KEY, "--retire-missing")  # fmt: skip
        assert release.returncode == 0, release.stderr
        assert "6 reported" in release.stderr and "6 id(s) listed, recorded; 26 retired" in (
            release.stderr
        )
        releases = requests.get(f"{api}/releases", timeout=5).json()["items"]
        assert [(r["namespace"], r["rows"]) for r in releases] == [("acled", 6)]


def test_an_import_to_a_url_where_nothing_listens_says_so_in_one_line(tmp_path: Path) -> None:
    data = FIXTURES / "acled" / "current.csv"
    url = f"http://127.0.0.1:{free_port()}"
    refused = cli("import", "acled", str(data), "--url", url, "--key", WRITE_KEY,
                  "--on-error", "skip", "--report", str(tmp_path / "r.csv"))  # fmt: skip
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr, refused.stderr
    assert f"cannot reach {url}" in refused.stderr and "nothing was written" in refused.stderr

"""The dashboard in a real headless Chromium (Debian's `chromium`), driven by Playwright,
against a real `timeline serve` with the demo data.

Without the browser the tests are skipped, unless TIMELINE_REQUIRE_SERVICES is set (CI,
whose .ci/run installs it). With TIMELINE_SCREENSHOTS=DIR each page's screenshot is saved
there (`make screenshots` refreshes the README's).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REQUIRED, WRITE_KEY
from tests.e2e.processes import clean_env, serving

CHROMIUM = os.environ.get("TIMELINE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = os.environ.get("TIMELINE_SCREENSHOTS")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, redis_server: str) -> Iterator[str]:
    """The root URL of `timeline serve --demo` (the dashboard at /)."""
    tmp = tmp_path_factory.mktemp("dashboard")
    env = clean_env(data_dir=str(tmp / "var"), api_keys=f"write:{WRITE_KEY}",
                    redis_url=redis_server, queue=f"dash-{tmp.name}")  # fmt: skip
    with serving(
        ["--demo", "--web-workers", "1", "--workers", "1"], env, tmp / "serve.log"
    ) as base:
        yield base.removesuffix("/api/v1")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium (the system's), shared by a module's tests."""
    if not Path(CHROMIUM).exists():
        if REQUIRED:
            pytest.fail(f"the browser tests need Chromium at {CHROMIUM} (apt install chromium)")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


class Watched:
    """A page, with every console error and every request that left the machine noted."""

    def __init__(self, page: Any, base: str) -> None:
        self.page = page
        self.errors: list[str] = []
        self.external: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        local = (base, "data:", "blob:")
        page.on("request", lambda r: r.url.startswith(local) or self.external.append(r.url))

    def shot(self, name: str) -> None:
        """Save a screenshot for the README when asked to."""
        if SCREENSHOTS:
            Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"))


@pytest.fixture
def watched(browser: Any, served: str) -> Iterator[Watched]:
    """A fresh desktop-sized page (1280 by 800)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield Watched(context.new_page(), served)
    context.close()

"""The dashboard with 100k events: time to the first timeline rows, and to an interactive map
of 10k incidents, from the browser's own clock.

    python bench/dashboard.py [--incidents 10000] [--statements 9] [--runs 5]

Loads ``--incidents`` incidents, each with ``--statements`` statements (100,000 events by
default), spread over the region and over two years, into a fresh SQLite deployment, catches
the read models up, serves it (`timeline serve`, 2 web workers) and opens the dashboard in
headless Chromium ``--runs`` times per page: the time from navigation start
(``performance.now()``) until the timeline has drawn its rows, and until the map has placed
every incident (clusters built, the map answering). Target: under 1.5 s each.
"""

from __future__ import annotations

import argparse
import statistics
from datetime import timedelta

from common import deployment, served

from tests.browser.conftest import CHROMIUM
from tests.factories import T0, a_statement, an_incident
from timeline.bootstrap import build
from timeline.projections.framework import catch_up


def load(settings: object, incidents: int, statements: int) -> int:
    """Write the incidents in batches of 500; returns the log's head."""
    services = build(settings)  # type: ignore[arg-type]
    app = services.app
    app.on_append = lambda position: None
    for start in range(0, incidents, 500):
        batch = []
        for n in range(start, min(start + 500, incidents)):
            at = T0 + timedelta(hours=n * 17520 / incidents)
            place = {
                "name": f"Place {n % 400}",
                "country": "UA",
                "lat": 46.0 + (n * 7 % 600) / 100,
                "lon": 30.0 + (n * 13 % 900) / 100,
            }
            said = [a_statement(stated_at=at + timedelta(hours=s + 1)) for s in range(statements)]
            batch.append({**an_incident(title=f"Incident {n}", occurred={"start": at},
                                        location=place), "statements": said})  # fmt: skip
        app.apply_batch(batch)
    catch_up(app, services.views, list(services.projections.values()))
    head = app.head()
    services.close()
    return head


def timed(page: object, url: str, ready: str) -> float:
    """Milliseconds from navigation start until ``ready`` is on the page."""
    page.goto("about:blank")  # type: ignore[attr-defined]
    page.goto(url)  # type: ignore[attr-defined]
    page.wait_for_selector(ready, timeout=60_000)  # type: ignore[attr-defined]
    return float(page.evaluate("performance.now()"))  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--statements", type=int, default=9)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with deployment("sqlite") as settings:
        head = load(settings, args.incidents, args.statements)
        with served(settings, "--web-workers", "2") as api, sync_playwright() as playwright:
            root = api.removesuffix("/api/v1")
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            timeline = [timed(page, f"{root}/#/timeline", "#view[data-ready='timeline']")
                        for _ in range(args.runs)]  # fmt: skip
            shown = page.locator("#timeline-rows tbody tr").count()
            mapped = [timed(page, f"{root}/#/map", "#map[data-ready='true']")
                      for _ in range(args.runs)]  # fmt: skip
            summary = page.locator("#map-summary").inner_text()
            browser.close()
    print(f"{head:,} events, {args.incidents:,} incidents, SQLite, 2 web workers, Chromium "
          f"headless at 1280x800, median of {args.runs}")  # fmt: skip
    print(f"  timeline, first {shown} rows drawn: {statistics.median(timeline):6.0f} ms "
          f"(min {min(timeline):.0f}, max {max(timeline):.0f}; target < 1500)")  # fmt: skip
    print(f"  map, every incident placed:     {statistics.median(mapped):6.0f} ms "
          f"(min {min(mapped):.0f}, max {max(mapped):.0f}; target < 1500) — {summary}")  # fmt: skip


if __name__ == "__main__":
    main()

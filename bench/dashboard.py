"""The dashboard at 100k incidents: each view's first useful paint, from the browser's own clock.

    python bench/dashboard.py [--incidents 100000] [--statements 1] [--runs 5]

Loads ``--incidents`` incidents, each with ``--statements`` statements, spread over the region
and over two years, into a fresh SQLite deployment, catches the read models up, serves it
(`timeline serve`, 2 web workers) and opens the dashboard in headless Chromium ``--runs`` times
per view: the time from navigation start (``performance.now()``) until the view shows what it
is for — the timeline's first rows, its time axis over the whole result, the map's cells of
every incident, a chart of every incident per week by kind, the changes of the last two
months. Target (issue 23): under 1 s each.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import timedelta

from common import deployment, served

from tests.browser.conftest import CHROMIUM
from tests.factories import T0, a_statement, an_incident
from timeline.bootstrap import build
from timeline.projections.framework import catch_up


def load(settings: object, incidents: int, statements: int) -> tuple[int, str]:
    """Write the incidents in batches of 500; returns the log's head, and when the last 1% of
    the incidents began to be written (the compare view's window)."""
    services = build(settings)  # type: ignore[arg-type]
    app = services.app
    app.on_append = lambda position: None
    last = ""
    for start in range(0, incidents, 500):
        if not last and start >= incidents * 0.99:
            time.sleep(1.1)  # (so that no earlier write falls in the second the window opens)
            last = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
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
    return head, last or time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(0))


def timed(page: object, url: str, ready: str) -> float:
    """Milliseconds from navigation start until ``ready`` is on the page."""
    page.goto("about:blank")  # type: ignore[attr-defined]
    page.goto(url)  # type: ignore[attr-defined]
    page.wait_for_selector(ready, timeout=60_000)  # type: ignore[attr-defined]
    return float(page.evaluate("performance.now()"))  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--statements", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with deployment("sqlite") as settings:
        head, since = load(settings, args.incidents, args.statements)
        until = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 60))
        with served(settings, "--web-workers", "2") as api, sync_playwright() as playwright:
            root = api.removesuffix("/api/v1")
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            views = {
                "timeline, first rows": ("timeline", "#view[data-ready='timeline']"),
                "timeline, time axis of the whole result": ("timeline", "#density svg"),
                "map, cells of every incident": ("map", "#map[data-ready='true']"),
                "chart, incidents per week by kind": (
                    "charts?measure=incidents&group_by=kind&interval=week",
                    "#chart[data-ready='true']",
                ),
                "compare, the last 1% written": (
                    f"compare?from={since}&to={until}&clock=recorded",
                    "#view[data-ready='compare']",
                ),
            }
            times = {name: [timed(page, f"{root}/#/{route}", ready) for _ in range(args.runs)]
                     for name, (route, ready) in views.items()}  # fmt: skip
            browser.close()
    print(f"{head:,} events, {args.incidents:,} incidents, SQLite, 2 web workers, Chromium "
          f"headless at 1280x800, median of {args.runs}")  # fmt: skip
    for name, runs in times.items():
        print(f"  {name + ':':45} {statistics.median(runs):6.0f} ms "
              f"(min {min(runs):.0f}, max {max(runs):.0f}; target < 1000)")  # fmt: skip


if __name__ == "__main__":
    main()

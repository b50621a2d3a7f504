"""The dashboard's pages, in a real browser, on the demo data."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import Watched
from tests.conftest import READ_KEY, WRITE_KEY
from tests.e2e.processes import clean_env, serving

pytestmark = pytest.mark.e2e
PAGES = ["timeline", "map", "charts", "ceasefires", "sources", "links", "compare", "live"]


def ready(watched: Watched, served: str, route: str) -> Any:
    """Open a page and wait until it has drawn itself."""
    page = watched.page
    page.goto(f"{served}/#/{route}")
    name = route.split("/")[0].split("?")[0]
    page.wait_for_selector(f"#view[data-ready='{name}']", timeout=15_000)
    return page


def kramatorsk(served: str) -> str:
    """The demo's Kramatorsk strike (not a dataset's twin of it, which a test may add)."""
    found = requests.get(f"{served}/api/v1/incidents", params={"q": "Kramatorsk"}, timeout=5)
    (incident,) = [i for i in found.json()["items"] if not i["external_ids"]]
    return str(incident["id"])


@pytest.mark.parametrize("route", PAGES)
def test_every_page_loads_with_no_error_and_nothing_from_outside(
    watched: Watched, served: str, route: str
) -> None:
    page = ready(watched, served, route)
    if route == "map":
        page.wait_for_selector("#map[data-ready='true']")
        assert page.locator("#map .leaflet-overlay-pane canvas").count() == 1  # countries
        assert int(page.locator("#map").get_attribute("data-incidents") or 0) >= 2  # the demo's
    assert page.locator("main h2").inner_text()
    page.wait_for_timeout(300)  # (late errors)
    watched.shot(route)
    assert watched.errors == []
    assert watched.external == []


def test_changing_a_filter_changes_the_rows(watched: Watched, served: str) -> None:
    page = ready(watched, served, "timeline")
    everything = page.locator("#timeline-rows tbody tr").count()
    page.select_option("#filter-kind", "ceasefire")
    page.click("form.filters button[type=submit]")
    expect(page).to_have_url(re.compile("kind=ceasefire"))
    page.wait_for_selector("#view[data-ready='timeline']")
    expect(page.locator("#timeline-rows tbody tr")).not_to_have_count(everything)
    titles = page.locator("#timeline-rows tbody tr td:nth-child(3) a").all_inner_texts()
    assert titles and all("ceasefire" in t.lower() for t in titles)
    assert watched.errors == []


def test_the_replay_slider_shows_the_claim_alone_then_the_contested_range(
    watched: Watched, served: str
) -> None:
    page = ready(watched, served, f"incident/{kramatorsk(served)}")
    watched.shot("incident")
    killed = page.locator(".figure-group[data-metric='killed']")
    page.locator("#replay").fill("0")  # as said by 09:00 on 8 January: Moscow's claim alone
    expect(page.locator("#replay-label")).to_contain_text("2023-01-08 09:00")
    expect(killed.locator(".figure-row")).to_have_count(1)
    expect(killed).to_contain_text("600")
    expect(killed).not_to_contain_text("contested")
    expect(page.locator("article.statement")).to_have_count(1)
    page.locator("#replay").fill("2")  # by 13:00: the mayor's report and the army's denial
    expect(page.locator("#replay-label")).to_contain_text("2023-01-08 13:00")
    expect(killed).to_contain_text("contested")
    expect(killed).to_contain_text("0\u2013600")  # (an en dash)
    expect(page.locator("article.statement.new")).to_have_count(2)  # new since the last step
    assert watched.errors == []


def test_a_statement_posted_through_the_api_appears_on_the_live_page(
    watched: Watched, served: str
) -> None:
    page = ready(watched, served, "live")
    page.wait_for_selector("#connection.open", timeout=10_000)
    incident = kramatorsk(served)
    posted = requests.post(
        f"{served}/api/v1/incidents/{incident}/statements",
        json={"source": {"name": "Browser test", "side": "independent", "type": "journalist"},
              "stance": "assessment", "text": "Seen live in the browser.",
              "stated_at": "2023-01-10T09:00:00Z"},
        headers={"Authorization": f"Bearer {WRITE_KEY}"}, timeout=5,
    )  # fmt: skip
    assert posted.status_code == 201, posted.text
    started = time.monotonic()
    page.wait_for_selector("#live-events >> text=Seen live in the browser.", timeout=2_000)
    assert time.monotonic() - started < 2
    assert watched.errors == []


def test_the_api_docs_render_their_operations_offline(watched: Watched, served: str) -> None:
    page = watched.page
    page.goto(f"{served}/api/v1/docs")
    page.wait_for_selector(".opblock", timeout=15_000)
    assert page.locator(".opblock").count() > 20
    assert watched.external == []


def test_a_phone_width_page_fits(browser: Any, served: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{served}/#/timeline")
    page.wait_for_selector("#view[data-ready='timeline']", timeout=15_000)
    width = page.evaluate("document.documentElement.scrollWidth")
    context.close()
    assert width <= 390 + 1  # no sideways scrolling


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, redis_server: str) -> Iterator[str]:
    """A second server whose reads need a key (TIMELINE_READ_REQUIRES_KEY=yes)."""
    tmp = tmp_path_factory.mktemp("guarded")
    env = clean_env(data_dir=str(tmp / "var"), api_keys=f"read:{READ_KEY}",
                    read_requires_key="yes", redis_url=redis_server,
                    queue=f"guarded-{tmp.name}")  # fmt: skip
    with serving(["--demo", "--web-workers", "1", "--workers", "1"], env, tmp / "log") as base:
        yield base.removesuffix("/api/v1")


def test_a_page_asks_for_a_read_key_and_keeps_it_for_the_tab(browser: Any, guarded: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    watched = Watched(context.new_page(), guarded)
    page = watched.page
    page.goto(f"{guarded}/#/timeline")
    dialog = page.locator("#key-dialog")
    expect(dialog).to_be_visible()
    page.get_by_label("API key").fill(READ_KEY)
    page.get_by_role("button", name="Use this key").click()
    page.wait_for_selector("#view[data-ready='timeline']")
    assert page.locator("#timeline-rows tbody tr").count() > 5
    assert page.evaluate("sessionStorage.getItem('timeline.readKey')") == READ_KEY
    assert page.evaluate("localStorage.length") == 0  # for the tab only
    context.close()
    assert watched.errors == [] or all("401" in e for e in watched.errors)


def test_the_folded_filters_reach_the_api_too(watched: Watched, served: str) -> None:
    page = ready(watched, served, "timeline?stance=denial")
    stances = page.locator("#timeline-rows tbody tr .badge").all_inner_texts()
    assert stances and set(stances) == {"denial"}
    page.goto(f"{served}/#/timeline?tag=casualties")
    page.wait_for_selector("#view[data-ready='timeline']")
    expect(page.locator("details.more-filters")).to_have_attribute("open", "")
    titles = set(page.locator("#timeline-rows tbody tr td:nth-child(3) a").all_inner_texts())
    assert titles and "Missile strike on Kramatorsk" in titles
    assert not any("ceasefire" in t.lower() for t in titles)
    assert watched.errors == []


def a_twin_of(served: str, incident_id: str) -> str:
    """The same strike as a monitor's row (3 km away, another count), reported through the
    API; its id once the matcher has proposed the pair."""
    writer = {"Authorization": f"Bearer {WRITE_KEY}"}
    original = requests.get(f"{served}/api/v1/incidents/{incident_id}", timeout=5).json()
    location = {k: v for k, v in original["location"].items() if v is not None}
    location |= {"name": "Kramatorsk city", "lat": location["lat"] + 0.027}
    body = {
        "title": "Missile strike, Kramatorsk (monitor)", "kind": original["kind"],
        "occurred": {"start": original["occurred"]["start"], "precision": "day"},
        "location": location, "external_ids": {"monitor": "KRA-0001"},
        "statements": [{"source": {"name": "Example Monitor", "side": "independent",
                                   "type": "ngo"}, "stance": "assessment",
                        "text": "Two killed, per the city's hospital.",
                        "stated_at": original["occurred"]["start"],
                        "figures": [{"metric": "killed", "value": 2}]}],
    }  # fmt: skip
    posted = requests.post(f"{served}/api/v1/incidents", json=body, headers=writer, timeout=5)
    assert posted.status_code == 201, posted.text
    twin = str(posted.json()["id"])
    for _ in range(100):
        found = requests.get(f"{served}/api/v1/links/proposals",
                             params={"incident": twin}, timeout=5).json()["items"]  # fmt: skip
        if found:
            return twin
        time.sleep(0.1)
    raise AssertionError("no proposal for the twin")


def test_a_proposal_is_linked_in_the_queue_and_the_twins_compete_on_the_incident_page(
    watched: Watched, served: str
) -> None:
    original = kramatorsk(served)
    twin = a_twin_of(served, original)
    page = watched.page
    page.goto(f"{served}/#/timeline")
    page.evaluate(f"sessionStorage.setItem('timeline.readKey', '{WRITE_KEY}')")
    ready(watched, served, "links")
    row = page.locator(f"li.proposal[data-pair*='{twin}']")
    expect(row).to_contain_text("monitor:KRA-0001")
    expect(row).to_contain_text("km apart")
    watched.shot("links")
    row.get_by_role("button", name="Same event: link").click()
    expect(row.get_by_role("status")).to_contain_text("Say why first")
    row.get_by_label("Reason").fill("the same strike, the monitor places it in the city")
    row.get_by_role("button", name="Same event: link").click()
    expect(row.get_by_role("status")).to_have_text("Linked.")
    for _ in range(100):  # the links read model catches up
        held = requests.get(f"{served}/api/v1/links", params={"incident": twin}, timeout=5)
        if held.json()["items"]:
            break
        time.sleep(0.1)
    page = ready(watched, served, f"incident/{original}")
    expect(page.locator("#twin-members tbody tr")).to_have_count(2)
    expect(page.locator("#twins")).to_contain_text("monitor")
    expect(page.locator("#disagreement")).to_contain_text("km apart")
    killed = page.locator(".competing[data-metric='killed']")
    expect(killed).to_contain_text("Example Monitor (monitor) 2")
    expect(killed).to_contain_text("they disagree")
    watched.shot("twins")
    assert watched.errors == []


def test_compare_lists_what_changed_between_two_moments(watched: Watched, served: str) -> None:
    writer = {"Authorization": f"Bearer {WRITE_KEY}"}
    t1 = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 1))
    time.sleep(1.5)
    incident = kramatorsk(served)
    amended = requests.patch(f"{served}/api/v1/incidents/{incident}", headers=writer,
                             json={"title": "Missile strike on Kramatorsk (renamed)",
                                   "reason": "a clearer title"}, timeout=5)  # fmt: skip
    assert amended.status_code == 200, amended.text
    time.sleep(1.5)
    t2 = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    caught_up = requests.get(f"{served}/api/v1/timeline", timeout=5,
                             params={"min_position": amended.json()["position"]})  # fmt: skip
    assert caught_up.status_code == 200  # (the timeline read model has the amendment)
    page = ready(watched, served, f"compare?from={t1}&to={t2}&clock=recorded")
    rows = page.locator("#changes > li")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-change", "changed")
    expect(rows.first).to_contain_text(
        "title: Missile strike on Kramatorsk → Missile strike on Kramatorsk (renamed)"
    )
    expect(page.locator("#compare-summary")).to_contain_text("Changed: 1")
    page.wait_for_selector("#compare-map[data-ready='true']")
    watched.shot("compare")
    assert watched.errors == []


def test_a_chart_draws_the_whole_result_and_downloads_as_svg_png_and_csv(
    watched: Watched, served: str
) -> None:
    page = ready(watched, served, "charts?measure=statements&group_by=source_side&interval=day")
    page.wait_for_selector("#chart[data-ready='true']")
    bars = page.locator("#chart svg rect")
    assert bars.count() >= 3  # a bar per day and side of the demo's statements
    expect(page.locator("#chart")).to_contain_text("RU")  # the legend names the sides
    watched.shot("charts")
    for label, name in (("Download CSV", "chart.csv"), ("Download SVG", "chart.svg"),
                        ("Download PNG", "chart.png")):  # fmt: skip
        with page.expect_download(timeout=5_000) as download:
            page.get_by_role("button", name=label).click()
        assert download.value.suggested_filename == name, label
        content = Path(download.value.path()).read_bytes()
        if name.endswith(".csv"):
            assert content.startswith(b"start,group,count,best,low,high\n")
        elif name.endswith(".png"):
            assert content.startswith(b"\x89PNG")
        else:
            assert b"<svg" in content and b"xmlns" in content
    page.select_option("#chart-group", "kind")
    page.select_option("#chart-measure", "incidents")
    page.click("form.filters button[type=submit]")
    expect(page).to_have_url(re.compile("group_by=kind"))
    page.wait_for_selector("#chart[data-ready='true']")
    expect(page.locator("#chart")).to_contain_text("strike")
    assert watched.errors == []


def test_the_time_axis_spans_the_whole_result_zooms_and_picks_a_period(
    watched: Watched, served: str
) -> None:
    page = ready(watched, served, "timeline")
    page.wait_for_selector("#density svg")
    density = page.locator("#density")
    assert density.locator("svg rect[fill-opacity], svg g[fill] rect").count() >= 2
    expect(density).to_contain_text("Incidents (by when they occurred)")
    whole = density.get_attribute("data-domain")
    page.get_by_role("button", name="Zoom in").click()
    expect(density).not_to_have_attribute("data-domain", whole or "")
    zoomed = density.get_attribute("data-domain")
    page.get_by_role("button", name="Earlier").click()
    expect(density).not_to_have_attribute("data-domain", zoomed or "")
    page.get_by_role("button", name="Whole span").click()
    expect(density).to_have_attribute("data-domain", whole or "")
    box = density.locator("svg .overlay").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.55, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.95, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    expect(page).to_have_url(re.compile(r"from=\d{4}-\d\d-\d\dT\d\d(%3A|:)\d\d.*to="))
    page.wait_for_selector("#view[data-ready='timeline']")
    expect(page.locator("#filter-from")).not_to_have_value("")
    assert watched.errors == []


def test_the_replay_steps_are_labelled_and_the_figures_have_a_scale(
    watched: Watched, served: str
) -> None:
    page = ready(watched, served, f"incident/{kramatorsk(served)}")
    steps = page.locator("#replay-steps button")
    assert steps.count() >= 3
    expect(steps.last).to_have_text("now")
    expect(steps.last).to_have_attribute("aria-current", "")
    steps.first.click()  # a step is a button: the keyboard reaches it too
    expect(page.locator("#replay-label")).to_contain_text("2023-01-08 09:00")
    expect(steps.first).to_have_attribute("aria-current", "")
    expect(page).to_have_url(re.compile(r"step=0"))  # kept in the address
    page.reload()
    page.wait_for_selector("#view[data-ready='incident']")
    expect(page.locator("#replay-label")).to_contain_text("2023-01-08 09:00")
    killed = page.locator(".figure-group[data-metric='killed']")
    expect(killed.locator(".figure-scale .ticks span")).to_have_text(["0", "300", "600"])
    assert watched.errors == []


def test_the_map_counts_per_cell_and_a_circle_opens_to_its_incidents(
    watched: Watched, served: str
) -> None:
    page = ready(watched, served, "map")
    page.wait_for_selector("#map[data-ready='true']")
    circles = page.locator("#map path.leaflet-interactive")
    assert circles.count() == int(page.locator("#map").get_attribute("data-cells") or 0) >= 1
    expect(page.locator("#map-summary")).to_contain_text("incident(s) in view")
    circles.first.focus()  # reachable from the keyboard
    page.keyboard.press("Enter")
    expect(page.locator(".cell-popup li").first).to_be_visible()
    page.get_by_role("button", name="Zoom out").click()  # (Leaflet's own control)
    expect(page).to_have_url(re.compile(r"zoom=4"))  # the view is kept in the address
    page.wait_for_timeout(500)
    assert int(page.locator("#map").get_attribute("data-incidents") or 0) >= 2
    shared = page.url
    page.goto(f"{served}/#/timeline")
    page.goto(shared)
    page.wait_for_selector("#map[data-ready='true']")
    assert page.evaluate("document.querySelector('#map').dataset.cells") is not None
    expect(page).to_have_url(re.compile(r"zoom=4"))
    assert watched.errors == []


def test_compare_picks_a_release_and_lists_what_it_changed(watched: Watched, served: str) -> None:
    writer = {"Authorization": f"Bearer {WRITE_KEY}"}
    stated = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
    item = {"title": "Shelling of Orikhiv", "kind": "shelling",
            "occurred": {"start": "2023-01-09", "precision": "day"},
            "location": {"name": "Orikhiv", "country": "UA", "lat": 47.57, "lon": 35.79},
            "external_ids": {"release-test": "R-1"}}  # fmt: skip
    batch = requests.post(f"{served}/api/v1/batch", headers=writer, timeout=5,
                          json={"items": [item], "stated_at": stated, "as_published": True,
                                "listed": True})  # fmt: skip
    assert batch.status_code in (200, 201), batch.text
    time.sleep(2.1)
    recorded = requests.post(f"{served}/api/v1/releases", headers=writer, timeout=5,
                             json={"namespace": "release-test", "stated_at": stated,
                                   "external_ids": ["R-1"]})  # fmt: skip
    assert recorded.status_code == 201, recorded.text
    requests.get(
        f"{served}/api/v1/changes",
        timeout=5,
        params={
            "from": "2020-01-01T00:00:00Z",
            "to": stated,
            "min_position": batch.json()["position"],
        },
    )
    page = ready(watched, served, "compare")
    page.select_option("#compare-release", f"release-test|{stated[:-1]}.000000+00:00")
    expect(page).to_have_url(re.compile("clock=stated&namespace=release-test"))
    page.wait_for_selector("#view[data-ready='compare']")
    rows = page.locator("#changes > li")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-change", "added")
    expect(rows.first).to_contain_text("Shelling of Orikhiv")
    assert watched.errors == []

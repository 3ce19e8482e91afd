"""The archive in a real browser (issue #14): every link of a day's page and of its story
pages answers 200 on a running server, and the pages follow the reader's dark mode."""

from __future__ import annotations

import re

from playwright.sync_api import Page

from digest.model import story_path

from . import test_browser
from .conftest import SAMPLE_DAY
from .test_browser import Live, shot
from .test_web import compose_sample

# The real browser and the live server, as test_browser.py makes them.
playwright, browser = test_browser.playwright, test_browser.browser
live, page = test_browser.live, test_browser.page


def links_on(page: Page) -> list[str]:
    hrefs: list[str] = page.eval_on_selector_all("main a[href]", "els => els.map(e => e.href)")
    return hrefs


def test_story_pages_and_their_links_resolve_on_a_running_server(page: Page, live: Live) -> None:
    day = compose_sample(live.store, live.cfg)
    live.store.get_or_create_send(SAMPLE_DAY)
    response = page.goto(f"{live.url}/archive/{SAMPLE_DAY}")
    assert response is not None and response.status == 200
    day_links = links_on(page)
    stories = {
        live.url + p for s in day.sections for st in s.stories if (p := story_path(day.date, st))
    }
    assert stories and stories <= set(day_links)
    checked: set[str] = set()
    for url in sorted(stories):
        r = page.goto(url)
        assert r is not None and r.status == 200, url
        assert page.locator("h1").count() == 1
        assert page.locator("meta[property='og:url']").get_attribute("content") == url
        for href in links_on(page):
            if href.startswith(live.url) and href not in checked:
                checked.add(href)
                got = page.request.get(href)
                assert got.status == 200, href
    assert f"{live.url}/archive/{SAMPLE_DAY}" in checked
    page.goto(sorted(stories)[0])
    shot(page, "archive-story")
    # Search from the box on the page: a word of a story's body finds it.
    page.get_by_label("Search the archive").fill("Luzon")
    page.get_by_role("button", name="Search").click()
    assert re.search(r"/archive/search\?q=Luzon$", page.url)
    found = page.locator("ol.results a").evaluate_all("els => els.map(e => e.href)")
    assert found and set(found) <= stories
    shot(page, "archive-search")


def _luminance(css: str) -> float:
    r, g, b = (int(v) / 255 for v in re.findall(r"\d+", css)[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_archive_and_subscriber_pages_follow_dark_mode(page: Page, live: Live) -> None:
    compose_sample(live.store, live.cfg)
    live.store.get_or_create_send(SAMPLE_DAY)
    background = "getComputedStyle(document.querySelector('main')).backgroundColor"
    ink = "getComputedStyle(document.body).color"
    for path in ("/archive/", f"/archive/{SAMPLE_DAY}", "/subscribe", "/archive/search?q=x"):
        page.emulate_media(color_scheme="light")
        page.goto(live.url + path)
        assert _luminance(page.evaluate(background)) > 0.9, path
        page.emulate_media(color_scheme="dark")
        page.goto(live.url + path)
        assert _luminance(page.evaluate(background)) < 0.15, path
        assert _luminance(page.evaluate(ink)) > 0.7, path
        page_bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert _luminance(page_bg) < 0.15, path
    shot(page, "archive-search-dark")
    page.goto(f"{live.url}/archive/{SAMPLE_DAY}")
    shot(page, "archive-day-dark")

"""The editor's pages in real Chromium at a phone's width (issue #13's smaller fixes): the day
page shows the preview before its forms and lists, a wide screen still shows the forms in a
column on the left, and the day list's dates never wrap. Fixtures come from test_browser.py."""

from __future__ import annotations

from playwright.sync_api import Locator, Page

from .conftest import SAMPLE_DAY
from .test_browser import (  # noqa: F401  (the browser, live, page and playwright fixtures)
    Live,
    browser,
    live,
    page,
    playwright,
    scroll_width,
    shot,
    sign_in,
)
from .test_web import compose_sample

PHONE = {"width": 375, "height": 800}


def top(locator: Locator) -> float:
    box = locator.bounding_box()
    assert box is not None, "not shown"
    return box["y"]


def left(locator: Locator) -> float:
    box = locator.bounding_box()
    assert box is not None, "not shown"
    return box["x"]


def test_on_a_phone_the_preview_comes_before_the_forms(page: Page, live: Live) -> None:  # noqa: F811
    compose_sample(live.store, live.cfg)
    sign_in(page, live)
    page.set_viewport_size(PHONE)
    page.goto(f"{live.url}/editor/{SAMPLE_DAY}?view=phone")
    iframe = page.locator("iframe")
    sections = page.locator("fieldset")
    test_copy = page.get_by_role("button", name="Send test copy")
    recompose = page.get_by_role("button", name="Recompose from the stored stories")
    assert top(iframe) < top(sections) < top(test_copy) < top(recompose)
    assert scroll_width(page) <= 375 + 1
    shot(page, "editor-day-phone")

    # A wide screen keeps the forms in a narrow column left of the preview, side by side.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live.url}/editor/{SAMPLE_DAY}")
    assert left(sections) < left(iframe)
    assert abs(top(page.locator(".columns > .side")) - top(page.locator(".columns > .shown"))) < 2
    shot(page, "editor-day-desktop")


def test_the_day_lists_dates_do_not_wrap_on_a_phone(page: Page, live: Live) -> None:  # noqa: F811
    compose_sample(live.store, live.cfg)
    sign_in(page, live)
    page.set_viewport_size(PHONE)
    page.goto(f"{live.url}/editor/")
    date = page.get_by_role("link", name=SAMPLE_DAY)
    cell = page.locator("td.date")

    def lines() -> int:
        found: int = date.evaluate("a => a.getClientRects().length")
        return found

    assert lines() == 1
    subject = page.locator("td.date + td")
    box, beside = cell.bounding_box(), subject.bounding_box()
    assert box is not None and beside is not None
    assert box["x"] + box["width"] <= beside["x"] + 1  # the date stays in its own column
    shot(page, "editor-index-phone")
    # Without the rule the narrow table breaks the date at its hyphens: the check means something.
    cell.evaluate("td => { td.style.whiteSpace = 'normal'; }")
    assert lines() > 1

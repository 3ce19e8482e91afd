"""The editorial desk in real Chromium (issue #13): an editor retitles a story, makes it the
lead, drops and restores a related headline, moves one and learns its words, and sees the
preview and the log change at once; on a phone the desk fits the screen. Fixtures come from
test_browser.py."""

from __future__ import annotations

from playwright.sync_api import Page

from digest.jobs.keywords import LearnedKeyword, list_keywords

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


def frame_text(tab: Page) -> str:
    frame = tab.frame_locator("iframe")
    text: str = frame.locator("body").inner_text()
    return text


def test_an_editor_edits_the_day_on_the_page_and_the_preview_follows(
    page: Page,  # noqa: F811
    live: Live,  # noqa: F811
) -> None:
    digest = compose_sample(live.store, live.cfg)
    story = digest.sections[2].stories[0]
    sign_in(page, live)
    page.goto(f"{live.url}/editor/{SAMPLE_DAY}")
    assert "Retitled on the desk" not in frame_text(page)

    item = page.locator(f"#story-{story.id}")
    item.get_by_text("Edit title, summary, section").click()
    item.get_by_label("Title").fill("Retitled on the desk")
    item.get_by_role("button", name="Save").click()
    page.get_by_text("The edit is saved").wait_for()
    assert "Retitled on the desk" in frame_text(page)

    page.locator(f"#story-{story.id}").get_by_role("button", name="Make lead").click()
    page.get_by_text("The edit is saved").wait_for()
    first = page.locator(".desk ol.desk-items li").first
    assert "Retitled on the desk" in first.inner_text() and "lead" in first.inner_text()
    subject = page.locator("dl.facts dd").first.inner_text()
    assert subject.endswith("Retitled on the desk")

    # Composing again from the stored stories keeps the editor's work.
    page.get_by_role("button", name="Recompose from the stored stories").click()
    page.get_by_text("The digest was composed").wait_for()
    assert "Retitled on the desk" in frame_text(page)
    assert page.locator("dl.facts dd").first.inner_text().endswith("Retitled on the desk")

    headline = digest.sections[0].headlines[0]
    page.get_by_role("button", name=f"Drop: {headline}").click()
    page.get_by_text("The edit is saved").wait_for()
    assert headline not in frame_text(page)
    page.get_by_role("button", name=f"Restore: {headline}").click()
    page.get_by_text("The edit is saved").wait_for()
    assert headline in frame_text(page)

    # Move a headline; the page offers its words to the section it went to.
    target = live.cfg.section_names[1]
    page.get_by_label(f"Section for “{headline}”").select_option(target)
    page.get_by_role("button", name=f"Move: {headline}").click()
    offer = page.locator("form.offer")
    offer.wait_for()
    words = offer.locator('input[name="words"]')
    assert words.count() >= 1
    learned = words.first.get_attribute("value")
    offer.get_by_role("button", name=f"Add to {target}'s keywords").click()
    page.get_by_text("The words were added").wait_for()
    assert (target, learned) in [(k.section, k.word) for k in keywords(live)]

    log = page.locator("table.edit-log tbody tr")
    assert log.count() == 5  # title, lead, drop, restore, move: the newest first
    newest = log.first.inner_text()
    assert "editor" in newest and "section" in newest and target in newest

    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(f"{live.url}/editor/{SAMPLE_DAY}#desk")
    assert scroll_width(page) <= 375 + 1
    shot(page, "editor-desk-phone")


def keywords(app: Live) -> list[LearnedKeyword]:
    return list_keywords(app.store)

"""The subscriber desk in real Chromium (issue #17): an editor finds a subscriber by a part
of their name, opens their page, unsubscribes them with the button, resubscribes them (the
confirmation comes through the real SMTP server, and only its button makes them active),
and removes another behind the checkbox; on a phone the desk fits the screen. Fixtures come
from test_browser.py."""

from __future__ import annotations

import re

from playwright.sync_api import Page

from digest.store import Store
from digest.subscribers import new_subscriber

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
from .test_send import parse, text_of
from .test_web import link, path_of


def add(app: Live, email: str, name: str | None, sections: str | None = None) -> int:
    new = new_subscriber(email, name, sections, app.cfg.section_names)
    app.store.upsert_subscribers([new])
    found = app.store.find_subscriber(email)
    assert found is not None
    return found.id


def state_of(store: Store, sub_id: int) -> str | None:
    sub = store.get_subscriber(sub_id)
    return None if sub is None else sub.status


def test_an_editor_finds_a_subscriber_and_unsubscribes_resubscribes_and_removes(
    page: Page,  # noqa: F811
    live: Live,  # noqa: F811
) -> None:
    ana = add(live, "ana.lopez@example.com", "Ana López", "Space")
    add(live, "ben@example.com", "Ben")
    cy = add(live, "cy@example.com", None)
    sign_in(page, live)
    page.get_by_role("link", name="Subscribers").click()
    page.get_by_role("heading", name="Subscribers", exact=True).wait_for()
    page.get_by_label("Address or name contains").fill("LÓPEZ")
    page.get_by_role("button", name="Search").click()
    results = page.locator("table.roster tbody tr")
    results.first.wait_for()
    assert results.count() == 1 and "ana.lopez@example.com" in results.first.inner_text()
    shot(page, "roster-search")

    page.get_by_role("link", name="ana.lopez@example.com").click()
    page.get_by_role("heading", name="ana.lopez@example.com").wait_for()
    assert "Space" in page.locator("dl.facts").inner_text()
    page.get_by_role("button", name="Unsubscribe").click()
    page.get_by_text("Unsubscribed: no more digests go to this address.").wait_for()
    assert page.locator("dl.facts .badge").inner_text() == "unsubscribed"
    assert page.get_by_role("button", name="Unsubscribe").count() == 0
    assert state_of(live.store, ana) == "unsubscribed"

    page.get_by_role("button", name="Resubscribe: send a confirmation").click()
    page.get_by_text("A confirmation email is on its way.").wait_for()
    assert page.locator("dl.facts .badge").inner_text() == "pending"
    [got] = live.smtp.received_by("ana.lopez@example.com")
    confirm = link(text_of(parse(got.data)), "confirm")
    assert confirm.startswith(live.url)
    assert state_of(live.store, ana) == "pending"
    page.goto(live.url + path_of(confirm))
    page.get_by_role("button", name="Confirm my subscription").click()
    page.get_by_role("heading", name="You are subscribed").wait_for()
    assert state_of(live.store, ana) == "active"

    # Remove another: the browser will not send the form until the box is ticked.
    page.goto(f"{live.url}/editor/subscribers/{cy}")
    page.get_by_role("button", name="Remove for good").click()
    assert page.url.endswith(f"/editor/subscribers/{cy}")
    assert state_of(live.store, cy) == "active"
    page.get_by_label(re.compile("Forget this subscriber")).check()
    page.get_by_role("button", name="Remove for good").click()
    page.get_by_text("The subscriber and their delivery records were removed.").wait_for()
    assert state_of(live.store, cy) is None
    assert "cy@example.com" not in page.locator("main").inner_text()


def test_the_desk_fits_a_phone(page: Page, live: Live) -> None:  # noqa: F811
    long_address = "a.very.long.address.that.goes.on.and.on.and.on@subdomain.example.com"
    sub_id = add(live, long_address, "Someone With A Rather Long Name Indeed", "Space;Nuclear")
    for n in range(60):  # a full page, and a next one
        add(live, f"reader{n:02}@example.com", f"Reader {n}")
    sign_in(page, live)
    page.set_viewport_size({"width": 375, "height": 800})
    for name, path in [
        ("index", "/editor/subscribers"),
        ("search", "/editor/subscribers?q=reader&status=active"),
        ("subscriber", f"/editor/subscribers/{sub_id}"),
    ]:
        response = page.goto(live.url + path)
        assert response is not None and response.status == 200, path
        assert scroll_width(page) <= 375, path
        shot(page, f"roster-phone-{name}")
    page.goto(live.url + "/editor/subscribers?q=reader")
    page.get_by_role("link", name="Next page").click()
    assert page.locator("table.roster tbody tr").count() == 10

"""Real-browser tests: Playwright drives Debian's headless Chromium (never a downloaded
browser) against the app served by a real uvicorn server on a free port, with the real
aiosmtpd server receiving the mail. Screenshots go to tests/output/screenshots/."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from digest.config import Config
from digest.store import Store
from digest.tokens import make_token
from digest.web import create_app

from .conftest import ROOT, SAMPLE_DAY
from .smtp_server import SMTPTestServer
from .test_send import SECRET, parse, text_of
from .test_web import (
    PASSWORD,
    add_subscriber,
    compose_sample,
    link,
    one_click_url,
    send_real_digest,
    status_of,
    web_config,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SHOTS = ROOT / "tests" / "output" / "screenshots"
T = TypeVar("T")

if not CHROMIUM.exists() and not os.environ.get("CI"):  # CI installs it: there, fail loudly
    pytest.skip("Debian's chromium is not installed (.ci/run installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    b = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield b
    b.close()


@dataclass
class Live:
    url: str
    cfg: Config
    store: Store
    smtp: SMTPTestServer


@pytest.fixture
def live(config: Config, store: Store, smtp_server: SMTPTestServer) -> Iterator[Live]:
    """The app under uvicorn on a free port, its links pointing at that port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    cfg = web_config(config, smtp_server, base_url=url)
    server = uvicorn.Server(uvicorn.Config(create_app(cfg, store), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield Live(url, cfg, store, smtp_server)
    server.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def off_the_loop(fn: Callable[[], T]) -> T:
    """Run `fn` in another thread: Playwright's sync API keeps an event loop in this one,
    and sending runs asyncio.run()."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result()


def sign_in(page: Page, live: Live) -> None:
    page.goto(f"{live.url}/editor/")
    assert "/editor/login" in page.url
    page.get_by_label("Name").fill("editor")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Digests").wait_for()


def scroll_width(page: Page) -> int:
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return width


# ---- layout -------------------------------------------------------------------------------


def test_sample_digest_fits_a_phone_and_fills_a_desktop_column(page: Page, live: Live) -> None:
    compose_sample(live.store, live.cfg)
    sign_in(page, live)
    frame = f"{live.url}/editor/{SAMPLE_DAY}/frame"
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(frame)
    assert scroll_width(page) <= 375
    shot(page, "email-375")
    page.set_viewport_size({"width": 600, "height": 800})
    page.goto(frame)
    assert scroll_width(page) <= 600
    card = page.locator(".card").first.bounding_box()
    assert card is not None and card["width"] >= 598  # the column spans the full 600 px
    shot(page, "email-600")


def test_public_pages_fit_a_phone(page: Page, live: Live) -> None:
    compose_sample(live.store, live.cfg)
    live.store.get_or_create_send(SAMPLE_DAY)  # published: the archive shows it
    sub_id = add_subscriber(live.store, live.cfg, "reader@example.com")
    page.set_viewport_size({"width": 375, "height": 800})
    for name, path in [
        ("archive", "/archive/"),
        ("archive-day", f"/archive/{SAMPLE_DAY}"),
        ("subscribe", "/subscribe"),
        ("preferences", f"/p/{make_token(SECRET, 'preferences', sub_id)}"),
        ("unsubscribe", f"/u/{make_token(SECRET, 'unsubscribe', sub_id)}"),
    ]:
        response = page.goto(live.url + path)
        assert response is not None and response.status == 200, path
        assert page.locator("h1").count() == 1, path
        assert scroll_width(page) <= 375, path
        shot(page, f"phone-{name}")


# ---- editor -------------------------------------------------------------------------------


def test_editor_signs_in_previews_and_sends_a_test_copy(page: Page, live: Live) -> None:
    compose_sample(live.store, live.cfg)
    sign_in(page, live)
    shot(page, "editor-overview")
    page.get_by_role("link", name=SAMPLE_DAY).click()
    page.get_by_role("link", name="Phone").click()
    iframe = page.locator("iframe")
    assert iframe.get_attribute("class") == "w375"
    assert iframe.bounding_box()["width"] == pytest.approx(375, abs=2)  # type: ignore[index]
    email = page.frame_locator("iframe")
    email.get_by_role("heading", name=live.cfg.name).wait_for()
    shot(page, "editor-phone")
    page.get_by_role("link", name="Plain text").click()
    assert live.cfg.name in page.locator("pre.text").inner_text()

    # Preview what a subscriber with only "Space" gets, then send that as a test copy.
    for box in page.get_by_role("checkbox").all():
        box.uncheck()
    page.get_by_label("Space", exact=True).check()
    page.get_by_role("button", name="Preview").click()
    page.get_by_role("link", name="Desktop").click()
    assert "sections=Space" in page.url
    page.frame_locator("iframe").get_by_role("heading", name="Space", exact=True).wait_for()
    shot(page, "editor-desktop-space")
    page.get_by_label("Address").fill("editor@example.com")
    page.get_by_role("button", name="Send test copy").click()
    page.get_by_text("The test copy was sent.").wait_for()
    [got] = live.smtp.received_by("editor@example.com")
    body = text_of(parse(got.data))
    assert "\nSpace\n=====\n" in body.replace("\r\n", "\n")
    assert live.store.find_send(SAMPLE_DAY) is None  # a test copy is not a send


# ---- subscribers --------------------------------------------------------------------------


def test_unsubscribe_link_from_a_real_message_unsubscribes(page: Page, live: Live) -> None:
    compose_sample(live.store, live.cfg)
    add_subscriber(live.store, live.cfg, "reader@example.com")
    msg = off_the_loop(
        lambda: send_real_digest(live.store, live.cfg, live.smtp, "reader@example.com")
    )
    url = link(text_of(msg), "u")
    assert url.startswith(live.url)
    page.goto(url)
    assert status_of(live.store, "reader@example.com") == "active"  # the GET changed nothing
    shot(page, "unsubscribe-confirm")
    page.get_by_role("button", name="Unsubscribe").click()
    page.get_by_role("heading", name="You are unsubscribed").wait_for()
    shot(page, "unsubscribe-done")
    assert status_of(live.store, "reader@example.com") == "unsubscribed"


def test_one_click_post_from_the_list_unsubscribe_header(
    playwright: Playwright, live: Live
) -> None:
    compose_sample(live.store, live.cfg)
    add_subscriber(live.store, live.cfg, "reader@example.com")
    msg = off_the_loop(
        lambda: send_real_digest(live.store, live.cfg, live.smtp, "reader@example.com")
    )
    url = one_click_url(msg)
    assert url.startswith(f"{live.url}/u/")
    request = playwright.request.new_context()  # like a mail provider: no cookies, no page
    try:
        response = request.post(url, form={"List-Unsubscribe": "One-Click"}, max_redirects=0)
        assert response.status == 200
    finally:
        request.dispose()
    assert status_of(live.store, "reader@example.com") == "unsubscribed"


def test_a_forged_token_changes_nothing(page: Page, playwright: Playwright, live: Live) -> None:
    sub_id = add_subscriber(live.store, live.cfg, "reader@example.com")
    good = make_token(SECRET, "unsubscribe", sub_id)
    forged = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    response = page.goto(f"{live.url}/u/{forged}")
    assert response is not None and response.status == 400
    page.get_by_role("heading", name="This link does not work").wait_for()
    assert page.get_by_role("button", name="Unsubscribe").count() == 0
    shot(page, "forged-token")
    request = playwright.request.new_context()
    try:
        posted = request.post(f"{live.url}/u/{forged}", form={"List-Unsubscribe": "One-Click"})
        assert posted.status == 400
    finally:
        request.dispose()
    assert status_of(live.store, "reader@example.com") == "active"


def test_subscribe_then_confirm_activates_exactly_one_subscriber(page: Page, live: Live) -> None:
    for attempt in range(2):  # asking twice makes no second subscriber
        page.goto(f"{live.url}/subscribe")
        page.get_by_label("Email address").fill("new.reader@example.com")
        page.get_by_label("Name").fill("New Reader")
        page.get_by_label("Space", exact=True).check()
        if attempt == 0:
            shot(page, "subscribe-form")
        page.get_by_role("button", name="Subscribe").click()
        page.get_by_role("heading", name="Check your inbox").wait_for()
    live.smtp.wait_for(2)
    confirmations = live.smtp.received_by("new.reader@example.com")
    assert len(confirmations) == 2
    assert status_of(live.store, "new.reader@example.com") == "pending"
    page.goto(link(text_of(parse(confirmations[-1].data)), "confirm"))
    assert status_of(live.store, "new.reader@example.com") == "pending"
    page.get_by_role("button", name="Confirm my subscription").click()
    page.get_by_role("heading", name="You are subscribed").wait_for()
    shot(page, "subscribe-confirmed")
    subscribers = live.store.list_subscribers()
    assert [(s.email, s.status, s.sections) for s in subscribers] == [
        ("new.reader@example.com", "active", ("Space",))
    ]

"""The editor's keywords page (issue #13, learning from the desk): listing learned keywords
by section, adding them (the day page's offer posts here, with a `next` path to come back
to) and removing them, each form behind the session's CSRF token; errors inside the editor's
layout. Through the test client on real SQLite and PostgreSQL, and once in real Chromium."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator

import pytest
from httpx import Response
from markupsafe import escape
from playwright.sync_api import Page

from digest.config import Config
from digest.jobs import keywords as jobs
from digest.store import Store
from digest.web import create_app

from .test_browser import Live, browser, live, page, playwright, shot, sign_in  # noqa: F401
from .test_web import BASE, cfg_fixture  # noqa: F401  (the cfg fixture)
from .test_web_editor import login

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

PAGE = "/editor/keywords"


@pytest.fixture(name="client")
def client_fixture(cfg: Config, store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(cfg, store), base_url=BASE) as c:
        yield c


def learned(store: Store) -> list[tuple[str, str, str]]:
    return [(s, w, by) for s, w, by, _ in store.learned_keywords()]


def post(client: TestClient, path: str, data: dict[str, object]) -> Response:
    return client.post(path, data=data, follow_redirects=False)


def test_the_page_needs_a_sign_in(client: TestClient) -> None:
    r = client.get(PAGE, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/editor/login?")
    r = post(client, f"{PAGE}/add", {"section": "Space", "words": "tug"})
    assert r.status_code == 303 and "/editor/login" in r.headers["location"]


def test_the_page_lists_learned_keywords_by_section(
    client: TestClient, cfg: Config, store: Store
) -> None:
    store.add_keywords("Space", ["orbital tug"], "alice")
    store.add_keywords("Nuclear", ["<b>centrifuge</b>"], "bob")  # not through the checks
    csrf = login(client)
    r = client.get(PAGE)
    assert r.status_code == 200
    html = r.text
    for s in cfg.sections:
        assert f"<h2>{escape(s.name)}</h2>" in html
    assert "orbital tug" in html and "added by alice" in html
    assert "<b>centrifuge</b>" not in html and "&lt;b&gt;centrifuge&lt;/b&gt;" in html
    # One Remove form per word, and the Add form, each with the session's token.
    assert html.count('action="/editor/keywords/remove"') == 2
    assert html.count(f'name="csrf" value="{csrf}"') >= 3
    assert f'<option value="{escape(cfg.more_section)}">' not in html  # the catch-all


def test_add_and_remove(client: TestClient, store: Store) -> None:
    csrf = login(client)
    data = {"csrf": csrf, "section": "Space", "words": ["Orbital Tug", "gizmo"]}
    r = post(client, f"{PAGE}/add", data)
    assert r.status_code == 303 and r.headers["location"] == f"{PAGE}?notice=learned"
    assert learned(store) == [("Space", "gizmo", "editor"), ("Space", "orbital tug", "editor")]
    assert "The keywords were added" in client.get(r.headers["location"]).text
    r = post(client, f"{PAGE}/add", {**data, "words": "gizmo"})  # already there
    assert r.headers["location"] == f"{PAGE}?notice=known"

    r = post(client, f"{PAGE}/remove", {"csrf": csrf, "section": "Space", "word": "gizmo"})
    assert r.status_code == 303 and r.headers["location"] == f"{PAGE}?notice=removed"
    assert learned(store) == [("Space", "orbital tug", "editor")]
    r = post(client, f"{PAGE}/remove", {"csrf": csrf, "section": "Space", "word": "gizmo"})
    assert r.status_code == 404 and "no learned keyword" in r.text
    assert 'href="/editor/"' in r.text  # still inside the editor's layout


def test_add_goes_back_to_the_day_page(client: TestClient, store: Store) -> None:
    csrf = login(client)
    day = "/editor/2026-11-26?view=phone"
    data = {"csrf": csrf, "section": "Nuclear", "words": ["centrifuge"], "next": day}
    r = post(client, f"{PAGE}/add", data)
    assert r.status_code == 303 and r.headers["location"] == f"{day}&notice=learned"
    assert learned(store) == [("Nuclear", "centrifuge", "editor")]


@pytest.mark.parametrize(
    "unsafe",
    [
        "https://evil.example/editor/",
        "//evil.example/editor/",
        "/editor//evil.example",
        "/editor/\\evil.example",
        "/archive/",
        "/editor/x\r\nSet-Cookie: a=b",
        "",
    ],
)
def test_an_unsafe_next_is_ignored(client: TestClient, unsafe: str) -> None:
    csrf = login(client)
    data = {"csrf": csrf, "section": "Space", "words": "tug", "next": unsafe}
    r = post(client, f"{PAGE}/add", data)
    assert r.status_code == 303
    assert r.headers["location"] in (f"{PAGE}?notice=learned", f"{PAGE}?notice=known")


@pytest.mark.parametrize("token", [None, "", "0" * 64, "wrong"])
def test_forms_refuse_a_missing_or_wrong_csrf_token(
    client: TestClient, store: Store, token: str | None
) -> None:
    login(client)
    store.add_keywords("Space", ["tug"], "alice")
    extra = {} if token is None else {"csrf": token}
    r = post(client, f"{PAGE}/add", {**extra, "section": "Space", "words": "gizmo"})
    assert r.status_code == 403
    r = post(client, f"{PAGE}/remove", {**extra, "section": "Space", "word": "tug"})
    assert r.status_code == 403
    assert learned(store) == [("Space", "tug", "alice")]


def test_refused_sections_and_words_are_said_on_the_page(
    client: TestClient, cfg: Config, store: Store
) -> None:
    csrf = login(client)
    back = "/editor/2026-11-26"
    r = post(client, f"{PAGE}/add", {"csrf": csrf, "section": "Sports", "words": "goal"})
    assert r.status_code == 400
    error = re.search(r'<p class="error" role="alert">([^<]*)</p>', r.text)
    assert error, r.text
    assert "no section named" in error.group(1) and escape(cfg.sections[0].name) in error.group(1)
    data = {"csrf": csrf, "section": "Space", "words": ["fine", "not;fine"], "next": back}
    r = post(client, f"{PAGE}/add", data)
    assert r.status_code == 400 and "letters, digits" in r.text
    assert f'<a href="{back}">' in r.text  # a way back to where the editor came from
    r = post(client, f"{PAGE}/add", {"csrf": csrf, "section": "Space"})  # no words ticked
    assert r.status_code == 400 and "at least one keyword" in r.text
    more = {"csrf": csrf, "section": cfg.more_section, "words": "goal"}
    assert post(client, f"{PAGE}/add", more).status_code == 400
    assert learned(store) == []


def test_the_route_is_not_taken_for_a_date(client: TestClient) -> None:
    """/editor/keywords is this page, not the day page of a date called 'keywords'."""
    login(client)
    r = client.get(PAGE)
    assert r.status_code == 200 and "<h1>Section keywords</h1>" in r.text


# ---- real Chromium -----------------------------------------------------------------------------


def test_an_editor_adds_and_removes_a_keyword_in_chromium(
    page: Page,  # noqa: F811  (the fixtures imported from test_browser)
    live: Live,  # noqa: F811
) -> None:
    sign_in(page, live)
    page.goto(f"{live.url}{PAGE}")
    page.get_by_label("Section").select_option("Nuclear")
    page.get_by_label("Word or phrase").fill("Fuel Rods")
    page.get_by_role("button", name="Add", exact=True).click()
    page.get_by_text("The keywords were added").wait_for()
    assert learned(live.store) == [("Nuclear", "fuel rods", "editor")]
    config = jobs.config_with_learned(live.store, live.cfg)
    assert "fuel rods" in next(s for s in config.sections if s.name == "Nuclear").keywords
    shot(page, "editor-keywords")
    page.get_by_role("button", name="Remove fuel rods from Nuclear").click()
    page.get_by_text("The keyword was removed").wait_for()
    assert learned(live.store) == []

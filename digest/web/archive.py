"""The public archive: every digest whose send has begun, as a web page and as an Atom feed,
a page for each of its stories, and search over them.

An unsent draft is never shown to the public, even at a guessed URL: what the public sees is
what went out. A signed-in editor sees the draft (the "View in browser" link of a test copy),
marked as such and kept out of search engines; everybody else gets the same 404 as for a day
that does not exist. The page is rendered from the stored Digest (not the email), so it has
every headline, also those the email had to cut to stay under Gmail's size limit.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..errors import NotFoundError
from ..jobs import accounts, digests, editors
from ..model import Digest
from ..text import match_key
from .feed import MEDIA_TYPE, atom_feed
from .pages import Web, valid_date, web
from .security import SESSION_COOKIE

router = APIRouter()
FEED_ENTRIES = 30
_SLUG = re.compile(r"([0-9]{1,18})(?:-[a-z0-9-]*)?")
DRAFT_HEADERS = {"X-Robots-Tag": "noindex", "Cache-Control": "private, no-store"}


def signed_in_editor(request: Request) -> bool:
    """Whether the request carries a live editor session (as the editor pages check it), never
    a redirect to the sign-in: a reader without one is simply not an editor."""
    w = web(request)
    sid = w.auth.session_id(request.cookies.get(SESSION_COOKIE))
    if sid is None or not editors.editor_pages_on(w.store, w.config.editor_password):
        return False
    return accounts.session_editor(w.store, sid) is not None


def headline_path(digest: Digest) -> Callable[[str], str | None]:
    """The archive path a related headline links to (None: it stays plain text)."""
    return lambda headline: digest.headline_links.get(match_key(headline))


def _page(w: Web, request: Request, name: str, draft: bool, **context: Any) -> HTMLResponse:
    response = w.page(request, name, draft=draft, **context)
    if draft:
        response.headers.update(DRAFT_HEADERS)
    return response


@router.get("/", include_in_schema=False)
def home() -> RedirectResponse:
    return RedirectResponse("/archive/", status_code=303)


@router.get("/archive/", response_class=HTMLResponse)
def archive_index(request: Request) -> HTMLResponse:
    w = web(request)
    return w.page(request, "archive_index", title="Archive", digests=digests.published(w.store))


@router.get("/archive/feed.xml")
def archive_feed(request: Request) -> Response:
    w = web(request)
    entries = digests.feed_entries(w.store, FEED_ENTRIES)
    return Response(atom_feed(w.config.name, w.base_url, entries), media_type=MEDIA_TYPE)


@router.get("/archive/search", response_class=HTMLResponse)
def archive_search(request: Request, q: str = "") -> HTMLResponse:
    w = web(request)
    query = q[: digests.QUERY_CHARS].strip()
    results = digests.search(w.store, query) if query else []
    title = f"Search: {query}" if query else "Search the archive"
    return w.page(
        request,
        "archive_search",
        title=title,
        q=query,
        results=results,
        limit=digests.SEARCH_RESULTS,
        robots="noindex",
    )


@router.get("/archive/{date}", response_class=HTMLResponse)
def archive_day(request: Request, date: str) -> HTMLResponse:
    w = web(request)
    date = valid_date(date)
    try:
        day = digests.archive_day(w.store, date, editor=signed_in_editor(request))
    except NotFoundError:
        raise HTTPException(404) from None
    og = {
        "type": "website",
        "title": day.digest.subject,
        "description": day.digest.preheader,
        "url": f"{w.base_url}/archive/{date}",
    }
    return _page(
        w,
        request,
        "archive_day",
        day.draft,
        title=day.digest.subject,
        day=day,
        digest=day.digest,
        corrected=day.corrected,
        headline_path=headline_path(day.digest),
        og=og,
    )


@router.get("/archive/{date}/{slug}", response_class=HTMLResponse, response_model=None)
def archive_story(request: Request, date: str, slug: str) -> Response:
    """A story's page; an address whose words are not the story's current title (it was
    retitled, or the words were mistyped) is moved to the one that is."""
    w = web(request)
    date = valid_date(date)
    found = _SLUG.fullmatch(slug)
    if found is None:
        raise HTTPException(404)
    try:
        page = digests.story_page(w.store, date, found.group(1), editor=signed_in_editor(request))
    except NotFoundError:
        raise HTTPException(404) from None
    if slug != page.story.slug:
        return RedirectResponse(page.path, status_code=301)
    og = {
        "type": "article",
        "title": page.story.title,
        "description": page.story.summary,
        "url": f"{w.base_url}{page.path}",
    }
    return _page(
        w,
        request,
        "archive_story",
        page.day.draft,
        title=page.story.title,
        page=page,
        digest=page.day.digest,
        headline_path=headline_path(page.day.digest),
        og=og,
    )

"""The public archive: every digest whose send has begun, as a web page and as an Atom feed.

An unsent draft is never shown, even at a guessed URL: what the public sees is what went out.
The page is rendered from the stored Digest (not the email), so it has every headline, also
those the email had to cut to stay under Gmail's size limit.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..errors import NotFoundError
from ..jobs import digests
from .feed import MEDIA_TYPE, atom_feed
from .pages import valid_date, web

router = APIRouter()
FEED_ENTRIES = 30


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


@router.get("/archive/{date}", response_class=HTMLResponse)
def archive_day(request: Request, date: str) -> HTMLResponse:
    w = web(request)
    try:
        digest, corrected = digests.archived(w.store, valid_date(date))
    except NotFoundError:
        raise HTTPException(404) from None
    return w.page(request, "archive_day", title=digest.subject, digest=digest, corrected=corrected)

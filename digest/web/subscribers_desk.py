"""The editor's subscriber desk: counts by state and section, a search by address or name a
page at a time, one subscriber's record and delivery history, and the actions on it
(unsubscribe, resubscribe through a new confirmation, remove).

Only for a signed-in editor; every action is a POST with the session's CSRF token, and
answers with a redirect that carries a short notice, or, when refused, a page inside the
editor's layout with the reason and a way back.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..errors import (
    ConfigError,
    DeliveryFailure,
    HeaderError,
    NotFoundError,
    SubscriberError,
    TransportError,
)
from ..jobs import roster
from ..subscribers import SUBSCRIBER_STATES
from .editor import CsrfField, Editor, EditorDep, _check_csrf, refused

router = APIRouter(prefix="/editor/subscribers")
INDEX = "/editor/subscribers"
NOTICES = {
    "unsubscribed": "Unsubscribed: no more digests go to this address.",
    "unchanged": "Nothing changed: this address gets no digests already.",
    "confirming": "A confirmation email is on its way. The subscriber stays pending, and "
    "gets no digest, until they press its button.",
    "removed": "The subscriber and their delivery records were removed.",
}


def _failed(
    request: Request, ed: Editor, title: str, text: str, status: int, back: str
) -> Response:
    label = "Back to the subscriber" if back != INDEX else "Back to the subscribers"
    return refused(request, ed, title, text, status, back, label)


def _done(subscriber_id: int | None, notice: str) -> RedirectResponse:
    path = INDEX if subscriber_id is None else f"{INDEX}/{subscriber_id}"
    return RedirectResponse(f"{path}?notice={notice}", status_code=303)


@router.get("", response_class=HTMLResponse)
def index(
    request: Request,
    ed: EditorDep,
    q: str = "",
    status: str = "",
    section: str = "",
    after: int = 0,
    notice: str | None = None,
) -> HTMLResponse:
    config = ed.web.config
    if status and status not in SUBSCRIBER_STATES:
        raise HTTPException(400, f"There is no subscriber state {status!r}.")
    if section and section not in config.section_names:
        raise HTTPException(400, "There is no such section.")
    page = roster.search(ed.web.store, text=q, status=status, section=section, after=after)
    filters = [("q", q.strip()), ("status", status), ("section", section)]
    kept = [(k, v) for k, v in filters if v]
    next_url = (
        f"{INDEX}?{urlencode([*kept, ('after', str(page.next_after))])}"
        if page.next_after is not None
        else None
    )
    return ed.web.page(
        request,
        "desk_subscribers",
        title="Subscribers",
        counts=roster.counts(ed.web.store, config),
        states=SUBSCRIBER_STATES,
        sections=config.section_names,
        q=q,
        state=status,
        section=section,
        filtered=bool(kept),
        first_page=f"{INDEX}?{urlencode(kept)}" if after > 0 else None,
        found=page.subscribers,
        next_url=next_url,
        notice=NOTICES.get(notice or ""),
        csrf=ed.csrf,
    )


@router.get("/{subscriber_id}", response_class=HTMLResponse)
def subscriber(
    request: Request, ed: EditorDep, subscriber_id: int, notice: str | None = None
) -> Response:
    try:
        shown = roster.record(ed.web.store, subscriber_id)
    except NotFoundError as exc:
        return _failed(request, ed, "No such subscriber", str(exc), 404, INDEX)
    return ed.web.page(
        request,
        "desk_subscriber",
        title=shown.subscriber.email,
        record=shown,
        sub=shown.subscriber,
        can_unsubscribe=shown.subscriber.status in roster.UNSUBSCRIBABLE,
        can_resubscribe=shown.subscriber.status in roster.RESUBSCRIBABLE,
        notice=NOTICES.get(notice or ""),
        csrf=ed.csrf,
    )


@router.post("/{subscriber_id}/unsubscribe", response_model=None)
def unsubscribe(
    request: Request, ed: EditorDep, subscriber_id: int, csrf: CsrfField = ""
) -> Response:
    _check_csrf(ed, csrf)
    try:
        changed = roster.unsubscribe(ed.web.store, subscriber_id)
    except NotFoundError as exc:
        return _failed(request, ed, "No such subscriber", str(exc), 404, INDEX)
    return _done(subscriber_id, "unsubscribed" if changed else "unchanged")


@router.post("/{subscriber_id}/resubscribe", response_model=None)
def resubscribe(
    request: Request, ed: EditorDep, subscriber_id: int, csrf: CsrfField = ""
) -> Response:
    """Mail a new confirmation link; the subscriber is pending until they press it."""
    _check_csrf(ed, csrf)
    w, back = ed.web, f"{INDEX}/{subscriber_id}"
    not_sent = "No confirmation was sent, and nothing changed"
    try:
        sent = roster.resubscribe(w.store, w.config, w.secret, subscriber_id, w.base_url)
    except NotFoundError as exc:
        return _failed(request, ed, "No such subscriber", str(exc), 404, INDEX)
    except SubscriberError as exc:
        return _failed(request, ed, "Not resubscribed", f"{not_sent}: {exc}.", 409, back)
    except (DeliveryFailure, TransportError, ConfigError, HeaderError) as exc:
        return _failed(request, ed, "Not resubscribed", f"{not_sent}: {exc}", 502, back)
    if not sent:
        text = f"{not_sent}: this mailbox had its share of confirmation emails; try later."
        return _failed(request, ed, "Not resubscribed", text, 429, back)
    return _done(subscriber_id, "confirming")


@router.post("/{subscriber_id}/remove", response_model=None)
def remove(
    request: Request,
    ed: EditorDep,
    subscriber_id: int,
    csrf: CsrfField = "",
    sure: Annotated[str, Form()] = "",
) -> Response:
    """Forget the subscriber and their deliveries, only with the form's checkbox ticked."""
    _check_csrf(ed, csrf)
    back = f"{INDEX}/{subscriber_id}"
    if sure != "yes":
        text = "Nothing was removed: tick the box to say you mean it (it cannot be undone)."
        return _failed(request, ed, "Not removed", text, 400, back)
    try:
        roster.remove(ed.web.store, subscriber_id)
    except NotFoundError as exc:
        return _failed(request, ed, "No such subscriber", str(exc), 404, INDEX)
    return _done(None, "removed")

"""The subscriber's pages: unsubscribe (/u), preferences (/p), subscribe and confirm.

The signed token in the URL is the capability, so these forms need no login and no CSRF
token. A GET never changes anything (mail scanners follow every link in an email); every
change is committed before the answer goes out.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..errors import (
    ConfigError,
    DeliveryFailure,
    HeaderError,
    PermanentFailure,
    SubscriberError,
    TokenError,
    TransportError,
)
from ..jobs import subscribers as jobs
from ..model import Subscriber
from ..subscribers import new_subscriber
from .pages import Web, web
from .security import client_key

router = APIRouter()
Sections = Annotated[list[str] | None, Form()]


def _refused(w: Web, request: Request, exc: TokenError) -> HTMLResponse:
    return w.message(
        request,
        "This link does not work",
        f"{str(exc).capitalize()}. Nothing was changed. Use the link from your most recent "
        "email, or subscribe again.",
        400,
    )


def _subscriber(w: Web, token: str, action: str) -> Subscriber | None:
    """The subscriber a valid token names (None if since removed); TokenError if invalid."""
    return jobs.by_token(w.store, w.secret, token, action)


def _gone(w: Web, request: Request) -> HTMLResponse:
    return w.message(request, "Not subscribed", "This address is not on our list any more.", 404)


def _lookup(w: Web, request: Request, token: str, action: str) -> Subscriber | HTMLResponse:
    """The subscriber a link names, or the page that says why the link does not work."""
    try:
        sub = _subscriber(w, token, action)
    except TokenError as exc:
        return _refused(w, request, exc)
    return _gone(w, request) if sub is None else sub


# ---- unsubscribe ----------------------------------------------------------------------


@router.get("/u/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str) -> HTMLResponse:
    w = web(request)
    sub = _lookup(w, request, token, "unsubscribe")
    if isinstance(sub, HTMLResponse):
        return sub
    return w.page(request, "unsubscribe", title="Unsubscribe", sub=sub, token=token)


@router.post("/u/{token}", response_class=HTMLResponse)
def unsubscribe(request: Request, token: str) -> HTMLResponse:
    """RFC 8058 one-click (body List-Unsubscribe=One-Click, no cookies) or the page's button:
    either way 200 and no redirect, which one-click senders expect."""
    w = web(request)
    try:
        sub = _subscriber(w, token, "unsubscribe")
    except TokenError as exc:
        return _refused(w, request, exc)
    if sub is not None:
        jobs.unsubscribe(w.store, sub)
    return w.page(request, "unsubscribed", title="You are unsubscribed", sub=sub)


# ---- preferences ----------------------------------------------------------------------


@router.get("/p/{token}", response_class=HTMLResponse)
def preferences_page(request: Request, token: str, saved: str | None = None) -> HTMLResponse:
    w = web(request)
    sub = _lookup(w, request, token, "preferences")
    if isinstance(sub, HTMLResponse):
        return sub
    return _preferences(w, request, sub, token, notice="Saved." if saved else None)


def _preferences(
    w: Web,
    request: Request,
    sub: Subscriber,
    token: str,
    status: int = 200,
    notice: str | None = None,
    error: str | None = None,
) -> HTMLResponse:
    chosen = set(sub.sections or w.config.section_names)
    return w.page(
        request,
        "preferences",
        status,
        title="Your subscription",
        sub=sub,
        token=token,
        sections=w.config.section_names,
        chosen=chosen,
        resumable=sub.status in jobs.RESUMABLE,
        notice=notice,
        error=error,
    )


@router.post("/p/{token}", response_class=HTMLResponse, response_model=None)
def save_preferences(
    request: Request,
    token: str,
    action: Annotated[str, Form()] = "save",
    sections: Sections = None,
) -> Response:
    w = web(request)
    sub = _lookup(w, request, token, "preferences")
    if isinstance(sub, HTMLResponse):
        return sub
    if action == "save":
        try:
            jobs.choose_sections(w.store, w.config, sub, sections or [])
        except SubscriberError as exc:
            return _preferences(w, request, sub, token, 400, error=str(exc))
    elif action == "pause":
        jobs.pause(w.store, sub)
    elif action == "resume":
        jobs.resume(w.store, sub)
    elif action == "unsubscribe":
        jobs.unsubscribe(w.store, sub)
    else:
        return _preferences(w, request, sub, token, 400, error="Unknown action.")
    return RedirectResponse(f"/p/{token}?saved=1", status_code=303)


# ---- subscribe and confirm ------------------------------------------------------------


@router.get("/subscribe", response_class=HTMLResponse)
def subscribe_page(request: Request) -> HTMLResponse:
    w = web(request)
    return _subscribe_form(w, request)


def _subscribe_form(
    w: Web,
    request: Request,
    status: int = 200,
    error: str | None = None,
    values: dict[str, object] | None = None,
) -> HTMLResponse:
    return w.page(
        request,
        "subscribe",
        status,
        title=f"Subscribe to {w.config.name}",
        sections=w.config.section_names,
        error=error,
        values=values or {"email": "", "name": "", "sections": []},
    )


@router.post("/subscribe", response_class=HTMLResponse)
def subscribe(
    request: Request,
    email: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    sections: Sections = None,
) -> HTMLResponse:
    """Adds a `pending` subscriber and mails a confirmation link. The answer is the same
    whether the address was new, pending or long subscribed, and whether its mailbox had its
    share of confirmation emails already, so it tells nobody anything.

    The address is checked before anything is stored; a request that fails leaves no row."""
    w = web(request)
    if not jobs.allow_subscribe_request(w.store, w.config, client_key(request)):
        return w.message(
            request, "Too many requests", "Please wait a while before trying again.", 429
        )
    values: dict[str, object] = {"email": email, "name": name, "sections": sections or []}
    try:
        new = new_subscriber(email, name or None, sections, w.config.section_names)
    except SubscriberError as exc:
        return _subscribe_form(w, request, 400, str(exc), values)
    try:
        jobs.request_subscription(w.store, w.config, w.secret, new, w.base_url)
    except (PermanentFailure, HeaderError):
        # This address cannot be written or carried (say, a non-ASCII mailbox name and a
        # server without SMTPUTF8): the same for anyone who types it, so saying so is safe.
        return _subscribe_form(w, request, 400, UNDELIVERABLE, values)
    except (DeliveryFailure, TransportError, ConfigError):
        return w.message(
            request,
            "Could not send the email",
            "We could not send the confirmation email just now. Please try again later.",
            503,
        )
    return w.page(request, "subscribe_sent", title="Check your inbox", email=new.email)


UNDELIVERABLE = "We cannot send email to this address. Please check it, or use another one."


@router.get("/confirm/{token}", response_class=HTMLResponse)
def confirm_page(request: Request, token: str) -> HTMLResponse:
    """A button while the subscriber is pending; otherwise what the link can no longer do."""
    w = web(request)
    sub = _lookup(w, request, token, "confirm")
    if isinstance(sub, HTMLResponse):
        return sub
    return w.page(request, "confirm", title="Confirm your subscription", sub=sub, token=token)


@router.post("/confirm/{token}", response_class=HTMLResponse)
def confirm(request: Request, token: str) -> HTMLResponse:
    """A confirmation works once: only a `pending` subscriber becomes active. Pressed again,
    or after the subscriber unsubscribed or bounced, it changes nothing and says so."""
    w = web(request)
    sub = _lookup(w, request, token, "confirm")
    if isinstance(sub, HTMLResponse):
        return sub
    outcome = jobs.confirm(w.store, sub)
    if outcome == jobs.CONFIRMED:
        return w.page(request, "confirmed", title="You are subscribed", sub=sub)
    if outcome == "removed":
        return _gone(w, request)
    status = 409 if outcome in ("unsubscribed", "bounced") else 200
    now = replace(sub, status=outcome)
    return w.page(
        request, "confirm", status, title="Confirm your subscription", sub=now, token=token
    )

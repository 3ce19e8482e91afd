"""The editor's pages, behind a sign-in by name and password: the digests and their send
status, a preview of a day's email exactly as sent (phone, desktop, plain text, any choice of
sections), composing, test copies to one address, and the day's approval (Approve / Hold).

Without the `editor_password` setting and without any named editor account every route here
answers 404: the pages are off, never open. Every form POST carries a CSRF token bound to the
session, and the session remembers who signed in (approvals record that name).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..deliver.message import MessageTemplate, fill_tokens
from ..errors import (
    ApprovalError,
    ComposeError,
    ConfigError,
    DeliveryFailure,
    LoginRequired,
    NotFoundError,
    SubscriberError,
    TransportError,
)
from ..jobs import accounts, approval, desk, digests, editors
from ..jobs.mail import send_test_copy
from ..subscribers import normalize_email, parse_sections
from .pages import Web, valid_date, web
from .security import FRAME_CSP, SESSION_COOKIE, SESSION_SECONDS, EditorAuth, client_key

router = APIRouter(prefix="/editor")
VIEWS = {"phone": 375, "desktop": 600, "text": 0}
NOTICES = {
    "composed": "The digest was composed.",
    "sent": "The test copy was sent.",
    "approved": "The digest is approved: the next run sends it.",
    "held": "The digest is held: nothing more is sent until it is approved again.",
    "edited": "The edit is saved; the preview shows it.",
    "archived": "Sending has begun: the edit corrected the archive's copy only.",
    "unchanged": "Nothing changed.",
    "learned": "The words were added to the section's keywords; the next compose uses them.",
    "known": "The section knew those words already.",
}
NOT_SENT = "The test copy was not sent"
LOGIN_COOKIE = "digest_login"
PREVIEW_TOKEN = "preview"  # stands in for a subscriber's link tokens in previews


@dataclass(frozen=True)
class Editor:
    """A signed-in editor: the app's shared state, the session's CSRF token, and who it is."""

    web: Web
    auth: EditorAuth
    csrf: str
    session_id: str
    name: str


def _auth(request: Request) -> EditorAuth:
    w = web(request)
    if not editors.editor_pages_on(w.store, w.config.editor_password):
        raise HTTPException(404)
    return w.auth


def editor(request: Request) -> Editor:
    """Dependency: the signed-in editor, or a redirect to the login page. The cookie must be
    well signed and unexpired, and its session still on record (not signed out)."""
    auth = _auth(request)
    w = web(request)
    sid = auth.session_id(request.cookies.get(SESSION_COOKIE))
    name = None if sid is None else accounts.session_editor(w.store, sid)
    if sid is None or name is None:
        raise LoginRequired(request.url.path)
    return Editor(w, auth, auth.csrf_token(sid), sid, name)


EditorDep = Annotated[Editor, Depends(editor)]
CsrfField = Annotated[str, Form()]


def refused(
    request: Request,
    ed: Editor,
    title: str,
    text: str,
    status: int,
    back: str,
    back_label: str,
) -> HTMLResponse:
    """An editor action that failed, said inside the editor's layout with a link back to
    where the work is (never the public error page)."""
    return ed.web.page(
        request,
        "editor_message",
        status,
        title=title,
        text=text,
        back=back,
        back_label=back_label,
        csrf=ed.csrf,
    )


def action_failed(
    request: Request, ed: Editor, date: str, title: str, text: str, status: int
) -> HTMLResponse:
    """An action on a day that failed, with a link back to the day's page."""
    back_label = f"Back to the digest for {date}"
    return refused(request, ed, title, text, status, f"/editor/{date}", back_label)


def _check_csrf(ed: Editor, token: str) -> None:
    if not hmac.compare_digest(token.encode(), ed.csrf.encode()):
        raise HTTPException(403, "The form expired or came from another site; try again.")


def safe_next(path: str | None, default: str = "/editor/") -> str:
    """Only a path inside the editor (no other site, no other scheme, nothing that breaks a
    header), so a form's `next` cannot redirect anywhere else; else `default`."""
    if (
        path
        and path.startswith("/editor/")
        and "//" not in path
        and "\\" not in path
        and path.isprintable()
        and " " not in path
    ):
        return path
    return default


# ---- login ----------------------------------------------------------------------------


SESSION_PATH = "/"  # the archive shows a signed-in editor a day's draft (a test copy's link)


def _set_cookie(
    response: Response, request: Request, name: str, value: str, age: int, path: str = "/editor"
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=age,
        path=path,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def _login_form(
    request: Request, auth: EditorAuth, next_path: str | None, status: int = 200, error: str = ""
) -> HTMLResponse:
    """The sign-in form, whose CSRF token is bound to a random cookie of its own (there is
    no session yet), so another site cannot sign a browser in."""
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(18)
    response = web(request).page(
        request,
        "login",
        status,
        title="Editor sign-in",
        next=safe_next(next_path),
        error=error or None,
        csrf=auth.csrf_token(f"login.{nonce}"),
    )
    _set_cookie(response, request, LOGIN_COOKIE, nonce, 3600)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return _login_form(request, _auth(request), next)


@router.post("/login", response_class=HTMLResponse, response_model=None)
def login(
    request: Request,
    csrf: CsrfField = "",
    # A form without the name field (an older page) signs in as the shared account.
    name: Annotated[str, Form()] = accounts.EDITOR,
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/editor/",
) -> Response:
    auth = _auth(request)
    w = web(request)
    if not w.login_limit.allow(client_key(request)):
        return w.message(request, "Too many attempts", "Wait a while and try again.", 429)
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    if not nonce or not hmac.compare_digest(
        csrf.encode(), auth.csrf_token(f"login.{nonce}").encode()
    ):
        return _login_form(request, auth, next, 403, "The form expired; please try again.")
    who = editors.sign_in(w.store, name.strip(), password, w.config.editor_password)
    if who is None:
        return _login_form(request, auth, next, 401, "That name or password is not right.")
    cookie = auth.new_session()
    sid = auth.session_id(cookie)
    assert sid is not None
    accounts.open_session(w.store, sid, SESSION_SECONDS, who)
    response = RedirectResponse(safe_next(next), status_code=303)
    _set_cookie(response, request, SESSION_COOKIE, cookie, SESSION_SECONDS, SESSION_PATH)
    response.delete_cookie(LOGIN_COOKIE, path="/editor")
    return response


@router.post("/logout")
def logout(ed: EditorDep, csrf: CsrfField = "") -> RedirectResponse:
    """Ends the session on the server: the cookie, wherever it was copied, opens nothing."""
    _check_csrf(ed, csrf)
    accounts.close_session(ed.web.store, ed.session_id)
    response = RedirectResponse("/editor/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=SESSION_PATH)
    response.delete_cookie(SESSION_COOKIE, path="/editor")  # where sessions lived before
    return response


# ---- overview -------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, ed: EditorDep) -> HTMLResponse:
    infos, waiting = digests.overview(ed.web.store)
    return ed.web.page(
        request, "editor_index", title="Digests", digests=infos, waiting=waiting, csrf=ed.csrf
    )


# ---- one day --------------------------------------------------------------------------


def _sections(ed: Editor, names: list[str]) -> tuple[str, ...] | None:
    try:
        return parse_sections(names, ed.web.config.section_names)
    except SubscriberError as exc:
        raise HTTPException(400, str(exc)) from None


def _template(ed: Editor, date: str, sections: tuple[str, ...] | None) -> MessageTemplate | None:
    return digests.variant(ed.web.store, ed.web.config, date, sections)


def _subject(template: MessageTemplate) -> str:
    """The subject this variant carries (it names the lead story this subscriber gets)."""
    return template.subject


def _personal(body: str) -> str:
    return fill_tokens(body, PREVIEW_TOKEN, PREVIEW_TOKEN)


def day_url(date: str, view: str, sections: tuple[str, ...] | None, **extra: str) -> str:
    query = [("view", view), *(("sections", s) for s in sections or ()), *extra.items()]
    return f"/editor/{date}?{urlencode(query)}"


@router.get("/{date}", response_class=HTMLResponse)
def day(
    request: Request,
    ed: EditorDep,
    date: str,
    view: str = "desktop",
    sections: Annotated[list[str] | None, Query()] = None,
    notice: str | None = None,
    learn: str | None = None,
    to: str | None = None,
) -> HTMLResponse:
    w = ed.web
    valid_date(date)
    view = view if view in VIEWS else "desktop"
    chosen = _sections(ed, sections or [])
    try:
        shown = digests.day_view(w.store, w.config, date, chosen)
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    digest, template = shown.digest, shown.template
    if digest is None:
        return w.page(
            request,
            "editor_day",
            title=f"Digest for {date}",
            date=date,
            digest=None,
            sending=False,
            approval=shown.approval,
            csrf=ed.csrf,
            notice=None,
        )
    return w.page(
        request,
        "editor_day",
        title=f"Digest for {date}",
        date=date,
        digest=digest,
        template=template,
        subject=_subject(template) if template else digest.subject,
        text=_personal(template.text) if template else "",
        wide=True,
        view=view,
        width=VIEWS[view],
        views=VIEWS,
        chosen=chosen,
        section_names=[s.name for s in digest.sections],
        counts=shown.counts,
        sending=shown.sending,
        approval=shown.approval,
        version=shown.version,
        day_url=day_url,
        frame_src=f"/editor/{date}/frame?{urlencode([('sections', s) for s in chosen or ()])}",
        csrf=ed.csrf,
        notice=NOTICES.get(notice or ""),
        desk=desk.desk_view(w.store, w.config, date),
        # After a headline was moved: its words, offered to its new section's keywords.
        learn=learn if learn and to else None,
        learn_to=to,
        offer=desk.offer(w.store, w.config, date, learn, to) if learn and to else [],
    )


@router.get("/{date}/frame", response_class=HTMLResponse)
def frame(
    ed: EditorDep, date: str, sections: Annotated[list[str] | None, Query()] = None
) -> HTMLResponse:
    """The email's HTML alone, for the preview iframe, under a CSP that allows only its
    inline styles and images: no scripts, no forms."""
    valid_date(date)
    template = _template(ed, date, _sections(ed, sections or []))
    if template is None:
        raise HTTPException(404, "A subscriber with these sections gets no email for this day.")
    return HTMLResponse(_personal(template.html), headers={"Content-Security-Policy": FRAME_CSP})


@router.post("/{date}/compose", response_model=None)
def compose(request: Request, ed: EditorDep, date: str, csrf: CsrfField = "") -> Response:
    _check_csrf(ed, csrf)
    valid_date(date)
    try:
        digests.compose_day(ed.web.store, ed.web.config, date)
    except ComposeError as exc:
        return action_failed(request, ed, date, "Cannot compose", str(exc), 409)
    except NotFoundError as exc:
        return action_failed(request, ed, date, "Cannot compose", str(exc), 404)
    return RedirectResponse(day_url(date, "desktop", None, notice="composed"), status_code=303)


@router.post("/{date}/test", response_model=None)
def test_copy(
    request: Request,
    ed: EditorDep,
    date: str,
    csrf: CsrfField = "",
    email: Annotated[str, Form()] = "",
    view: Annotated[str, Form()] = "desktop",
    sections: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """One copy to one address, through the configured transport; never to the list."""
    _check_csrf(ed, csrf)
    valid_date(date)
    try:
        chosen = parse_sections(sections or [], ed.web.config.section_names)
        address = normalize_email(email)
    except SubscriberError as exc:
        return action_failed(request, ed, date, "Not sent", f"{NOT_SENT}: {exc}", 400)
    try:
        send_test_copy(ed.web.store, ed.web.config, date, chosen, address)
    except NotFoundError as exc:
        return action_failed(request, ed, date, "Not sent", f"{NOT_SENT}: {exc}", 404)
    except (DeliveryFailure, TransportError, ConfigError) as exc:
        return action_failed(request, ed, date, "Not sent", f"{NOT_SENT}: {exc}", 502)
    view = view if view in VIEWS else "desktop"
    return RedirectResponse(day_url(date, view, chosen, notice="sent"), status_code=303)


def _decide(
    request: Request, ed: Editor, date: str, csrf: str, approve: bool, seen: str | None = None
) -> Response:
    _check_csrf(ed, csrf)
    valid_date(date)
    try:
        if approve:
            approval.approve(ed.web.store, ed.web.config, date, ed.name, seen or None)
        else:
            approval.hold(ed.web.store, ed.web.config, date, ed.name)
    except NotFoundError as exc:
        return action_failed(request, ed, date, "No digest", str(exc), 404)
    except ApprovalError as exc:
        return action_failed(request, ed, date, "Not approved", str(exc), 409)
    notice = "approved" if approve else "held"
    return RedirectResponse(day_url(date, "desktop", None, notice=notice), status_code=303)


@router.post("/{date}/approve", response_model=None)
def approve(
    request: Request,
    ed: EditorDep,
    date: str,
    csrf: CsrfField = "",
    version: Annotated[str, Form()] = "",
) -> Response:
    """Let the day go out (or resume its send): the next `digest run` sends it. `version`
    names the digest the editor saw: one changed since is not approved unseen."""
    return _decide(request, ed, date, csrf, approve=True, seen=version)


@router.post("/{date}/hold", response_model=None)
def hold(request: Request, ed: EditorDep, date: str, csrf: CsrfField = "") -> Response:
    """Keep the day from going out; a send under way stops after the messages in flight."""
    return _decide(request, ed, date, csrf, approve=False)

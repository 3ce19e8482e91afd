"""The editor's page of section keywords learned from the desk: list them by section, remove
one, add more. The day page's offer ("add these words to the section's keywords") posts to
/editor/keywords/add with a `next` path to come back to.

Every form carries the session's CSRF token; a refused word or section is said on this page,
inside the editor's layout, with a way back.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..errors import KeywordError, NotFoundError
from ..jobs import keywords
from .editor import CsrfField, Editor, EditorDep, _check_csrf, safe_next

router = APIRouter(prefix="/editor")
PAGE = "/editor/keywords"
NOTICES = {
    "learned": "The keywords were added: the next compose uses them.",
    "known": "Those keywords were already there.",
    "removed": "The keyword was removed: the next compose goes without it.",
}


def _back(path: str, notice: str) -> RedirectResponse:
    """Back to `path` with the notice (before its #fragment, where a query must go)."""
    path, hash_, fragment = path.partition("#")
    sep = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{sep}notice={notice}{hash_}{fragment}", status_code=303)


def _page(
    request: Request,
    ed: Editor,
    status: int = 200,
    notice: str | None = None,
    error: str | None = None,
    back: str | None = None,
) -> HTMLResponse:
    config = ed.web.config
    learned = keywords.list_keywords(ed.web.store)
    by_section: dict[str, list[keywords.LearnedKeyword]] = {s.name: [] for s in config.sections}
    for k in learned:  # a section since taken out of the config stays listed, and removable
        by_section.setdefault(k.section, []).append(k)
    return ed.web.page(
        request,
        "editor_keywords",
        status,
        title="Section keywords",
        sections=[s.name for s in config.sections],
        configured={s.name: len(s.keywords) for s in config.sections},
        learned=by_section,
        notice=notice,
        error=error,
        back=back if back and back != PAGE else None,
        csrf=ed.csrf,
    )


@router.get("/keywords", response_class=HTMLResponse)
def keywords_page(request: Request, ed: EditorDep, notice: str | None = None) -> HTMLResponse:
    return _page(request, ed, notice=NOTICES.get(notice or ""))


@router.post("/keywords/add", response_model=None)
def add(
    request: Request,
    ed: EditorDep,
    csrf: CsrfField = "",
    section: Annotated[str, Form()] = "",
    words: Annotated[list[str] | None, Form()] = None,
    next: Annotated[str, Form()] = PAGE,
) -> Response:
    """Teach a section words (each field one word or phrase), then go back to `next`."""
    _check_csrf(ed, csrf)
    back = safe_next(next, PAGE)
    try:
        done = keywords.add_keywords(ed.web.store, ed.web.config, section, words or [], ed.name)
    except (KeywordError, NotFoundError) as exc:
        return _page(request, ed, 400, error=f"Nothing was added: {exc}", back=back)
    return _back(back, "learned" if done.added else "known")


@router.post("/keywords/remove", response_model=None)
def remove(
    request: Request,
    ed: EditorDep,
    csrf: CsrfField = "",
    section: Annotated[str, Form()] = "",
    word: Annotated[str, Form()] = "",
) -> Response:
    _check_csrf(ed, csrf)
    try:
        keywords.remove_keyword(ed.web.store, ed.web.config, section, word)
    except NotFoundError as exc:
        return _page(request, ed, 404, error=f"Nothing was removed: {exc}")
    return _back(PAGE, "removed")

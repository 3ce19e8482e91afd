"""The editorial desk on the editor's day page: one form action for every edit of a story, a
related headline or the day (as `digest edit`), recorded under the signed-in editor's name.

Every form carries the session's CSRF token. An edit that cannot be made answers inside the
editor's layout with the reason and a way back. After moving a headline to a section, the day
page offers to add the headline's telling words to that section's keywords.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from ..errors import EditError, NotFoundError
from ..jobs import desk
from .editor import EditorDep, _check_csrf, action_failed
from .pages import valid_date

router = APIRouter(prefix="/editor")
Field = Annotated[str | None, Form()]

# The buttons of a story's or a headline's row.
ACTIONS = ("drop", "restore", "lead", "up", "down")


@router.post("/{date}/edit")
def edit(
    request: Request,
    ed: EditorDep,
    date: str,
    csrf: Annotated[str, Form()] = "",
    story: Field = None,
    headline: Field = None,
    action: Field = None,
    title: Field = None,
    summary: Field = None,
    section: Field = None,
    subject: Field = None,
    preheader: Field = None,
    was_title: Field = None,
    was_summary: Field = None,
    was_section: Field = None,
    was_subject: Field = None,
    was_preheader: Field = None,
) -> Response:
    """One edit. A field sent with the value the page showed (its `was_` twin) is left out:
    only what the editor changed is an edit, so a page loaded before someone else's edit
    does not undo it."""
    _check_csrf(ed, csrf)
    valid_date(date)
    title, summary, section, subject, preheader = (
        None if value == shown else value
        for value, shown in (
            (title, was_title),
            (summary, was_summary),
            (section, was_section),
            (subject, was_subject),
            (preheader, was_preheader),
        )
    )
    if action is not None and action not in ACTIONS:
        return action_failed(request, ed, date, "Not changed", f"Unknown action {action!r}.", 400)
    try:
        req = desk.EditRequest(
            story=story or None,
            headline=headline or None,
            title=title,
            summary=summary,
            section=section or None,
            subject=subject,
            preheader=preheader,
            drop={"drop": True, "restore": False}.get(action or ""),
            lead=action == "lead",
            move={"up": -1, "down": 1}.get(action or "", 0),
        )
        result = desk.edit(ed.web.store, ed.web.config, date, req, ed.name)
    except EditError as exc:
        return action_failed(request, ed, date, "Not changed", str(exc), 400)
    except NotFoundError as exc:
        return action_failed(request, ed, date, "Not changed", str(exc), 404)
    query: list[tuple[str, str]] = [("notice", "archived" if result.archive_only else "edited")]
    if not result.changes:
        query = [("notice", "unchanged")]
    moved = [c for c in result.changes if c.field == "section" and c.target.startswith("headline:")]
    if headline and moved:
        # Offer the moved headline's words to its new section (the day page asks).
        query += [("learn", headline), ("to", moved[0].new)]
    anchor = f"#story-{story}" if story else "#desk"
    return RedirectResponse(f"/editor/{date}?{urlencode(query)}{anchor}", status_code=303)


__all__ = ["router"]

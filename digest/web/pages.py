"""The pages' jinja2 environment and the one object every route reaches through the app.

Templates are `web/*.html.j2` looked up like the email's (config.templates first, then the
built-in folder), so a newsletter restyles its pages the same way. Autoescape is always on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import jinja2
from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse

from ..config import Config
from ..render import template_dirs
from ..store import Store
from ..text import long_date
from .security import EditorAuth, RateLimiter


def make_env(config: Config) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in template_dirs(config)]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["long_date"] = long_date
    return env


@dataclass
class Web:
    """What the routes share: settings, the store, the pages and the security helpers."""

    config: Config
    store: Store
    secret: str
    env: jinja2.Environment
    auth: EditorAuth  # the pages are on with editor_password or a named account (editor.py)
    login_limit: RateLimiter  # sign-in attempts per client (subscribe limits: the database)

    @property
    def base_url(self) -> str:
        return self.config.base_url.rstrip("/")

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> str:
        template = self.env.get_template(f"web/{name}.html.j2")
        return template.render(
            name=self.config.name,
            request=request,
            path=request.url.path,
            **context,
        )

    def page(self, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(self.render(request, name, **context), status_code=status)

    def message(
        self, request: Request, title: str, text: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        """A page that says one thing: a result, or why something was refused."""
        return self.page(request, "message", status, title=title, text=text, **context)


def web(request: Request) -> Web:
    found: Web = request.app.state.web
    return found


def valid_date(date: str) -> str:
    """A YYYY-MM-DD path segment, else 404: dates come from URLs anyone can type."""
    try:
        parsed = dt.date.fromisoformat(date)
    except ValueError:
        raise HTTPException(404) from None
    if parsed.isoformat() != date:
        raise HTTPException(404)
    return date

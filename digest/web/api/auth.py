"""Who is calling: the API token in the `Authorization: Bearer` header, and nowhere else.

The check runs as a middleware, before any route reads its body, so a request without a
live token gets 401 whatever it sends, and changes nothing. Only the header is read: a token
in the query string would land in access logs and browser histories, so none is looked for
there. The token is never logged, and never in an answer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.responses import Response

from ...errors import FieldError
from ...jobs import api_tokens
from ..pages import web

log = logging.getLogger("digest.web.api")

# What needs no token: the schema, which says what the API is, and holds nothing.
PUBLIC = frozenset({"/openapi.json"})

bearer = HTTPBearer(
    auto_error=False,
    description="An API token (`digest tokens create NAME`), as `Authorization: Bearer TOKEN`.",
)


def route_path(request: Request) -> str:
    """The path inside the API (without the /api/v1 it is mounted at)."""
    path, root = str(request.scope["path"]), str(request.scope.get("root_path", ""))
    return path[len(root) :] if root and path.startswith(root) else path


def unauthorized(reason: str) -> JSONResponse:
    return JSONResponse(
        {"error": "unauthorized", "reason": reason},
        status_code=401,
        headers={"WWW-Authenticate": "Bearer", "Cache-Control": "no-store"},
    )


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer TOKEN` header, else None."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


async def require_token(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Middleware: 401 unless the request carries a live token; its name is then
    request.state.api_token for the routes (and for the record of who approved a day)."""
    if route_path(request) not in PUBLIC:
        token = bearer_token(request)
        if token is None:
            return unauthorized("send an API token as 'Authorization: Bearer TOKEN'")
        # In a thread: a database read (and now and then a write) must not hold up the site.
        name = await asyncio.to_thread(api_tokens.token_name, web(request).store, token)
        if name is None:
            # Not the token, nor the path: the first is a secret, the second may name someone.
            log.warning("API request refused: unknown or revoked token")
            return unauthorized("the API token is unknown or revoked")
        request.state.api_token = name
    response = await call_next(request)
    response.headers["Cache-Control"] = "no-store"
    return response


def caller(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> str:
    """The name of the token the request came with (checked by require_token); declared on
    every route so the schema shows the bearer scheme."""
    return str(request.state.api_token)


Caller = Annotated[str, Depends(caller)]


def valid_date(date: str) -> str:
    """A YYYY-MM-DD date, else 422 naming the field."""
    try:
        parsed = dt.date.fromisoformat(date)
    except ValueError:
        raise FieldError("date", "not a date: use YYYY-MM-DD") from None
    if parsed.isoformat() != date:
        raise FieldError("date", "not a date: use YYYY-MM-DD")
    return date


Day = Annotated[str, Depends(valid_date)]

__all__ = ["Caller", "Day", "bearer_token", "caller", "require_token", "valid_date"]

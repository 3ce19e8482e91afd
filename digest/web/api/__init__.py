"""The JSON API (issue #17): a FastAPI app of its own, mounted at /api/v1 by the web app,
with its OpenAPI schema at /api/v1/openapi.json.

Every call needs an API token (auth.py). Every answer is JSON, errors too: 401 without a
live token, 404 for an unknown subscriber or day, 409 for what is refused as things stand,
422 naming the field that was refused; never the web app's HTML pages, never a traceback,
never a secret.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from ...errors import (
    ApprovalError,
    ComposeError,
    DigestError,
    FieldError,
    NotFoundError,
    SubscriberError,
)
from ..pages import Web
from . import deliveries, digests, subscribers
from .auth import require_token

log = logging.getLogger("digest.web.api")
PREFIX = "/api/v1"


def create_api(state: Web) -> FastAPI:
    """The API over the web app's store and settings (`state`), to mount at PREFIX."""
    api = FastAPI(
        title=f"{state.config.name} API",
        version="1",
        description="Subscribers, digests and deliveries. Send an API token (digest tokens "
        "create NAME) as `Authorization: Bearer TOKEN`.",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    api.state.web = state
    api.include_router(subscribers.router)
    api.include_router(deliveries.router)
    api.include_router(digests.router)
    api.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    api.add_exception_handler(RequestValidationError, invalid_request)  # type: ignore[arg-type]
    api.add_exception_handler(DigestError, digest_error)  # type: ignore[arg-type]
    # Middlewares: the last added runs first. The token is checked before anything else.
    api.middleware("http")(require_token)
    api.middleware("http")(json_errors)
    return api


def error(status: int, code: str, reason: str, field: str | None = None) -> JSONResponse:
    body: dict[str, str] = {"error": code, "reason": reason}
    if field is not None:
        body["field"] = field
    return JSONResponse(body, status_code=status)


async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    phrase = HTTPStatus(exc.status_code).phrase
    reason = str(exc.detail) if exc.detail else phrase
    code = "not_found" if exc.status_code == 404 else phrase.lower().replace(" ", "_")
    response = error(exc.status_code, code, reason)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


def field_of(location: tuple[int | str, ...]) -> str:
    """The field a validation error is about: ('body', 'email') is email, ('query',
    'limit') is limit, ('body', 'sections', 0) is sections; the body itself (missing, or
    not JSON: ('body', 12)) is body."""
    if len(location) > 1 and isinstance(location[1], str):
        return location[1]
    return str(location[0]) if location else "body"


async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 naming the first field refused, and why (never the value sent)."""
    first = exc.errors()[0] if exc.errors() else {}
    location = tuple(first.get("loc", ("body",)))
    reason = str(first.get("msg", "invalid"))
    if first.get("type") == "extra_forbidden":
        reason = "not a field this call takes"
    return error(422, "invalid", reason, field_of(location))


async def digest_error(request: Request, exc: DigestError) -> JSONResponse:
    if isinstance(exc, FieldError):
        return error(422, "invalid", exc.reason, exc.field)
    if isinstance(exc, SubscriberError):
        return error(422, "invalid", str(exc), "body")
    if isinstance(exc, NotFoundError):
        return error(404, "not_found", str(exc))
    if isinstance(exc, (ApprovalError, ComposeError)):
        return error(409, "conflict", str(exc))
    # Not the path: it may name a subscriber.
    log.error("API %s request failed: %s", request.method, type(exc).__name__)
    return error(500, "server_error", "the request failed; try again later")


async def json_errors(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Middleware: an unexpected error is a JSON 500 too, with no traceback in it."""
    try:
        return await call_next(request)
    except Exception as exc:
        log.error("API %s request failed", request.method, exc_info=exc)
        return error(500, "server_error", "the request failed; try again later")


__all__ = ["PREFIX", "create_api"]

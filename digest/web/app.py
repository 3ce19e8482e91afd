"""The FastAPI app: routers for the archive, the subscriber's pages and the editor, the
security headers, and error pages that say what went wrong without showing internals."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..config import Config, secret_for
from ..errors import DigestError, LoginRequired, NotFoundError
from ..store import Store
from . import api, archive, desk, editor, keywords, subscriber, subscribers_desk
from .pages import Web, make_env, web
from .security import (
    EditorAuth,
    RateLimiter,
    RedactTokens,
    add_security_headers,
    security_headers,
)

log = logging.getLogger("digest.web")
LOGIN_ATTEMPTS = 10  # per client address per LOGIN_WINDOW
LOGIN_WINDOW = 900.0
WEBHOOK_EVERY = 5.0  # seconds between passes of the webhook dispatcher


def create_app(config: Config, store: Store | None = None) -> FastAPI:
    """The web app over `store` (opened from config.database_url when not given).

    The link secret is the one the sender signs with, so every emailed link works here.
    """
    own_store = store is None
    the_store = Store(config.database_url, events=config.webhook_events) if store is None else store
    secret = secret_for(config, config.default_transport)
    state = Web(
        config=config,
        store=the_store,
        secret=secret,
        env=make_env(config),
        auth=EditorAuth(secret, config.editor_password or ""),
        login_limit=RateLimiter(LOGIN_ATTEMPTS, LOGIN_WINDOW),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Added at startup, once uvicorn has configured its loggers.
        access, redact = logging.getLogger("uvicorn.access"), RedactTokens()
        access.addFilter(redact)
        telling = None
        if config.webhooks:  # events go out while the site runs, not only at `digest run`
            from ..jobs.webhooks import keep_dispatching

            telling = asyncio.create_task(keep_dispatching(the_store, config, WEBHOOK_EVERY))
        yield
        if telling is not None:
            telling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await telling
        access.removeFilter(redact)
        if own_store:
            the_store.close()

    app = FastAPI(
        title=config.name, docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.web = state
    app.middleware("http")(security_headers)
    app.include_router(archive.router)
    app.include_router(subscriber.router)
    # Before the editor's: its /editor/{date} would take /editor/keywords for a date.
    app.include_router(keywords.router)
    app.include_router(subscribers_desk.router)
    app.include_router(desk.router)
    app.include_router(editor.router)
    app.mount(api.PREFIX, api.create_api(state))  # the JSON API, with its own errors
    app.add_api_route("/static/site.css", stylesheet, methods=["GET"], include_in_schema=False)
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(LoginRequired, login_required)  # type: ignore[arg-type]
    app.add_exception_handler(DigestError, digest_error)  # type: ignore[arg-type]
    # Anything else: Starlette answers it outside every middleware, headers included.
    app.add_exception_handler(Exception, server_error)
    return app


def stylesheet(request: Request) -> Response:
    css = web(request).env.get_template("web/site.css").render()
    return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


async def http_error(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
    phrase = HTTPStatus(exc.status_code).phrase
    text = (
        exc.detail
        if exc.detail and exc.detail != phrase
        else _DEFAULT_TEXT.get(exc.status_code, "The request could not be handled.")
    )
    response = web(request).message(request, phrase, str(text), exc.status_code)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


_DEFAULT_TEXT = {
    404: "There is no page at this address.",
    405: "This page does not take that kind of request.",
}


async def invalid_request(request: Request, exc: RequestValidationError) -> HTMLResponse:
    return web(request).message(
        request, "Bad request", "The request was not complete or not well-formed.", 400
    )


async def login_required(request: Request, exc: LoginRequired) -> RedirectResponse:
    return RedirectResponse("/editor/login?" + urlencode({"next": exc.next_path}), status_code=303)


async def digest_error(request: Request, exc: DigestError) -> HTMLResponse:
    w = web(request)
    if isinstance(exc, NotFoundError):
        return w.message(request, "Not found", str(exc), 404)
    # Not the path: it may carry a subscriber's token.
    log.error("%s request failed: %s", request.method, exc)
    return w.message(request, "Something went wrong", "Please try again later.", 500)


async def server_error(request: Request, exc: Exception) -> Response:
    """An unexpected error: the same page as any other failure, never a traceback, and with
    every security header (this answer does not pass through the headers middleware)."""
    # Not the path: it may carry a subscriber's token.
    log.error("%s request failed", request.method, exc_info=exc)
    response: Response
    try:
        response = web(request).message(
            request, "Something went wrong", "Please try again later.", 500
        )
    except Exception:  # the pages themselves are what failed
        response = PlainTextResponse("Something went wrong. Please try again later.", 500)
    return add_security_headers(request, response)

"""What keeps the web side safe: response headers, the editor's signed session cookie and
CSRF tokens, and an in-memory rate limit (for sign-in attempts).

The session cookie holds a random session id and an expiry, signed with a key derived from
the secret key *and* the `editor_password` setting, so changing it ends every session. Named
editors' passwords are checked in jobs.editors. The
session itself lives in the database (jobs.accounts): signing out deletes it, and a cookie
kept from before then opens nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "digest_editor"
SESSION_SECONDS = 12 * 3600

# No page needs a script; email HTML is the only thing with inline styles (see FRAME_CSP).
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-src 'self'; frame-ancestors 'self'; base-uri 'none'"
)
# The editor's preview iframe shows the email's own HTML: inline styles, remote images,
# links that open outside the frame; still no scripts, forms or plugins.
FRAME_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Pages behind a token or a login must not sit in a shared cache.
_PRIVATE_PREFIXES = ("/editor", "/u/", "/p/", "/confirm/", "/subscribe")


def add_security_headers(request: Request, response: Response) -> Response:
    """The security headers, unless the route set a stricter one of its own (a CSP)."""
    response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
    for name, value in _HEADERS.items():
        response.headers.setdefault(name, value)
    if request.url.path.startswith(_PRIVATE_PREFIXES):
        response.headers["Cache-Control"] = "no-store"
    return response


async def security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Middleware: the security headers on every response. (A 500 from an unhandled error is
    made outside every middleware, so its handler adds them itself.)"""
    return add_security_headers(request, await call_next(request))


_TOKEN_PATH = re.compile(r"^/(u|p|confirm)/[^/?]+")
# An API token put where it does not belong (the API reads it from the Authorization header
# alone, which is never logged), say in a query string: logged as 'dg_...'.
_API_TOKEN = re.compile(r"\bdg_[A-Za-z0-9_%-]{8,}")


class RedactTokens(logging.Filter):
    """Keeps link tokens out of uvicorn's access log: a token is its subscriber's key to the
    subscription, so '/u/<token>' is logged as '/u/...'; so is anything shaped like an API
    token."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn.access logs (client, method, path, http version, status).
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path = _API_TOKEN.sub("dg_...", _TOKEN_PATH.sub(r"/\1/...", args[2]))
            record.args = (*args[:2], path, *args[3:])
        return True


class EditorAuth:
    """Issues and checks editor session cookies and their CSRF tokens."""

    def __init__(self, secret: str, password: str) -> None:
        material = f"digest-editor-session|{password}".encode()
        self._key = hmac.new(secret.encode("utf-8"), material, hashlib.sha256).digest()

    def _sign(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).hexdigest()

    def new_session(self, now: float | None = None) -> str:
        """A cookie for a new session with a random id (see session_id); the caller records
        the session, else the cookie opens nothing."""
        expires = int((time.time() if now is None else now) + SESSION_SECONDS)
        payload = f"{secrets.token_urlsafe(18)}.{expires:x}"
        return f"{payload}.{self._sign(payload)}"

    def session_id(self, cookie: str | None, now: float | None = None) -> str | None:
        """The session id a well-signed, unexpired cookie carries; None for anything else.
        Whether that session still exists (was not signed out) is the database's to say."""
        if not cookie or not cookie.isascii() or cookie.count(".") != 2:
            return None
        payload, _, sig = cookie.rpartition(".")
        if not hmac.compare_digest(sig, self._sign(payload)):
            return None
        sid, _, expires = payload.partition(".")
        try:
            alive = int(expires, 16) > (time.time() if now is None else now)
        except ValueError:
            return None
        return sid if alive else None

    def csrf_token(self, sid: str) -> str:
        """Bound to the session, so a token from another session (or none) is refused."""
        return self._sign(f"csrf.{sid}")


class RateLimiter:
    """At most `limit` hits per key in any `window` seconds (a sliding window), in memory.

    Per process: what must hold across processes (subscribe requests, confirmation emails)
    is counted in the database instead (jobs.accounts.allow). A limit of 0 turns it off.
    """

    MAX_KEYS = 10_000  # beyond this, keys with nothing in the window are forgotten

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Count a hit for `key`; False (and not counted) when it is over the limit."""
        if self.limit <= 0:
            return True
        now = self.clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            if len(self._hits) > self.MAX_KEYS:
                self._forget(now)
            return True

    def _forget(self, now: float) -> None:
        stale = [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]
        for key in stale:
            del self._hits[key]


def client_key(request: Request) -> str:
    """The client's address (behind a proxy, run uvicorn with --proxy-headers)."""
    return request.client.host if request.client else "unknown"

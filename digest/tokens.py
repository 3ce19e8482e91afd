"""Signed, URL-safe tokens for the links in every email (unsubscribe, preferences, confirm).

A token names a subscriber and an action and carries an HMAC-SHA256 over both, so it cannot be
forged or turned into another subscriber's or another action's. Unsubscribe links never expire
(an old email must still work); confirmation links do.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from .errors import TokenError

# "bounce" tags the envelope sender (VERP), so a bounce names the subscriber it is about.
ACTIONS = frozenset({"unsubscribe", "preferences", "confirm", "bounce"})
_SIG_BYTES = 16  # 128 bits is ample for an HMAC tag and keeps links short
# Length of a token that never expires, for ids below 2**32.
TOKEN_LENGTH = 1 + 8 + 1 + 1 + 1 + 22


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _tag(secret: str, payload: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), payload.encode("ascii"), hashlib.sha256).digest()[
        :_SIG_BYTES
    ]


def make_token(
    secret: str, action: str, subscriber_id: int, ttl: int | None = None, now: float | None = None
) -> str:
    """A token for `action` on `subscriber_id`; `ttl` seconds of validity, None for ever."""
    if action not in ACTIONS:
        raise ValueError(f"unknown token action {action!r}")
    expires = 0 if ttl is None else int((time.time() if now is None else now) + ttl)
    # Fixed-width id: every link token has the same length (see deliver/message.py).
    payload = f"{action[0]}{subscriber_id:08x}.{expires:x}"
    return f"{payload}.{_b64(_tag(secret, payload))}"


def read_token(secret: str, token: str, action: str, now: float | None = None) -> int:
    """The subscriber id a valid token names; TokenError for anything else.

    Only the exact text make_token writes is accepted: no `=` padding, no other spelling of
    the same signature bytes or of the same numbers, so one link has one form."""
    try:
        kind_id, expires_hex, sig = token.split(".")
        subscriber_id = int(kind_id[1:], 16)
        expires = int(expires_hex, 16)
    except (ValueError, UnicodeEncodeError):
        raise TokenError("malformed link") from None
    payload = f"{kind_id}.{expires_hex}"
    if not payload.isascii():
        raise TokenError("malformed link")
    expected = _b64(_tag(secret, payload))
    good = hmac.compare_digest(sig.encode("utf-8"), expected.encode("ascii"))
    canonical = payload == f"{kind_id[:1]}{subscriber_id:08x}.{expires:x}"
    if not good or not canonical or kind_id[0] != action[0]:
        raise TokenError("this link is not valid")
    if expires and (time.time() if now is None else now) > expires:
        raise TokenError("this link has expired")
    return subscriber_id

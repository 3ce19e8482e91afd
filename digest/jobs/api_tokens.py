"""API tokens for the JSON API (`digest tokens`): make one, list them, revoke one, and find
the token a request carries.

A token is shown once, when it is made; only a SHA-256 of it is stored. It is 32 random
bytes, so a fast hash is enough: a stolen table gives no token away, and a lookup by hash
never compares secrets character by character.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from ..errors import ApiTokenError, NotFoundError
from ..store import Store
from ..store.api_tokens import TokenInfo
from .editors import NAME

PREFIX = "dg_"
# What a token looks like ("dg_" and 43 URL-safe characters); anything else is refused
# before the database is asked.
_SHAPE = re.compile(r"dg_[A-Za-z0-9_-]{20,100}")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def check_name(name: str) -> str:
    """A name is 1-40 letters, digits, '.', '_' or '-', as an editor's."""
    if not NAME.fullmatch(name):
        raise ApiTokenError(f"token name {name!r}: use 1-40 letters, digits, '.', '_' or '-'")
    return name


def create_token(store: Store, name: str) -> str:
    """A new token named `name`, returned once (it is kept nowhere); a name a live token
    has is refused (a revoked token's name may be used again)."""
    check_name(name)
    token = PREFIX + secrets.token_urlsafe(32)
    if not store.add_token(name, hash_token(token)):
        raise ApiTokenError(f"there is already a token named {name!r} (revoke it first)")
    return token


def revoke_token(store: Store, name: str) -> None:
    """The token stops working at once; an unknown name names the live ones."""
    if not store.revoke_token(name):
        live = ", ".join(t.name for t in store.tokens() if t.revoked_at is None) or "none"
        raise NotFoundError(f"no live token named {name!r} (tokens: {live})")


def list_tokens(store: Store) -> list[TokenInfo]:
    """Every token by name, revoked ones too: when made, last used and revoked."""
    return store.tokens()


def token_name(store: Store, token: str) -> str | None:
    """The name of the live token `token` is, else None (malformed, unknown or revoked)."""
    if not _SHAPE.fullmatch(token):
        return None
    return store.token_name(hash_token(token))


__all__ = [
    "PREFIX",
    "TokenInfo",
    "check_name",
    "create_token",
    "hash_token",
    "list_tokens",
    "revoke_token",
    "token_name",
]

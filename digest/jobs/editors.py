"""Editor accounts: add, remove and list them, and check a sign-in.

Named accounts live in the database with an argon2 hash of the password. The
`editor_password` setting goes on working as one more account, named `editor`; a database
account of that name wins over it. Passwords and hashes are never logged or printed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from contextlib import suppress
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..errors import EditorError, NotFoundError
from ..store import Store
from .accounts import EDITOR

NAME = re.compile(r"[A-Za-z0-9._-]{1,40}")
MIN_PASSWORD = 8


@dataclass(frozen=True)
class EditorAccount:
    name: str
    created_at: dt.datetime


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@cache
def _decoy() -> str:
    """A hash to verify against when the name is unknown, so that takes as long as a known
    name with a wrong password."""
    return _hasher().hash("no such editor")


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise EditorError(f"editor name {name!r}: use 1-40 letters, digits, '.', '_' or '-'")
    return name


def add_editor(store: Store, name: str, password: str) -> None:
    """A new account; refuses a bad or taken name and a password under 8 characters."""
    check_name(name)
    if len(password) < MIN_PASSWORD:
        raise EditorError(f"the password must have at least {MIN_PASSWORD} characters")
    if not store.add_editor(name, _hasher().hash(password)):
        raise EditorError(f"there is already an editor named {name!r}")


def remove_editor(store: Store, name: str) -> None:
    """Delete the account and end its sessions; an unknown name names the valid ones."""
    if not store.remove_editor(name):
        known = ", ".join(n for n, _ in store.editors()) or "none"
        raise NotFoundError(f"no editor named {name!r} (editors: {known})")


def list_editors(store: Store) -> list[EditorAccount]:
    return [EditorAccount(name, created) for name, created in store.editors()]


def editor_pages_on(store: Store, shared_password: str | None) -> bool:
    """The editor pages are on with the `editor_password` setting or any named account."""
    return bool(shared_password) or store.has_editors()


def _same(given: str, expected: str) -> bool:
    # Constant-time, and hashed first so not even the length leaks.
    digest = hashlib.sha256
    return hmac.compare_digest(digest(given.encode()).digest(), digest(expected.encode()).digest())


def sign_in(store: Store, name: str, password: str, shared_password: str | None) -> str | None:
    """The editor's name when `name` and `password` are right, else None (whatever was
    wrong). A hash made with older argon2 settings is renewed on a good sign-in."""
    stored = store.editor_hash(name) if NAME.fullmatch(name) else None
    if stored is None:
        if name == EDITOR and shared_password:
            return EDITOR if _same(password, shared_password) else None
        with suppress(VerificationError):
            _hasher().verify(_decoy(), password)
        return None
    try:
        _hasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher().check_needs_rehash(stored):
        store.set_editor_hash(name, _hasher().hash(password))
    return name


__all__ = [
    "EditorAccount",
    "add_editor",
    "check_name",
    "editor_pages_on",
    "list_editors",
    "remove_editor",
    "sign_in",
]

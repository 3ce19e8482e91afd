"""The web side's accounts and limits, kept in the database so that every process serving the
site agrees: editor sessions (signing out ends one for good) and rate limits.

Sessions are named by a random id that the web layer signs into the cookie, and remember
the editor who signed in (named accounts: jobs/editors.py; the `editor_password` setting
signs in as EDITOR).
"""

from __future__ import annotations

import datetime as dt
import hashlib

from ..store import Store

EDITOR = "editor"


def open_session(store: Store, session_id: str, seconds: float, editor: str = EDITOR) -> None:
    """Record a session that lasts `seconds` (expired ones are cleaned up meanwhile)."""
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    store.add_session(session_id, expires, editor)


def session_editor(store: Store, session_id: str) -> str | None:
    """Who a session belongs to while it lasts; None once it ended or expired."""
    return store.session_editor(session_id)


def close_session(store: Store, session_id: str) -> None:
    store.end_session(session_id)


def allow(store: Store, kind: str, key: str, limit: int, window: float) -> bool:
    """Count a hit of `kind` for `key` (a client address, a mailbox); False, and not counted,
    past `limit` hits in `window` seconds. A limit of 0 turns it off. Only a hash of the key
    is stored."""
    if limit <= 0:
        return True
    digest = hashlib.sha256(f"{kind}\0{key}".encode()).hexdigest()
    return store.take_rate_slot(kind, digest, limit, window)


__all__ = ["EDITOR", "allow", "close_session", "open_session", "session_editor"]

"""Editor sessions: a row per signed-in session, so signing out (or an expiry) ends it for
good, whatever the browser still holds, and every process serving the web side agrees."""

from __future__ import annotations

import datetime as dt

from sqlmodel import col, delete, select

from .base import BaseStore
from .tables import EditorSessionRow, now


class SessionStore(BaseStore):
    def add_session(self, session_id: str, expires_at: dt.datetime, editor: str = "editor") -> None:
        """Record a new session; sessions that have expired meanwhile are cleaned up."""
        stamp = now()
        with self.errors(), self.session() as s:
            s.exec(delete(EditorSessionRow).where(col(EditorSessionRow.expires_at) <= stamp))
            s.add(
                EditorSessionRow(
                    id=session_id, editor=editor, created_at=stamp, expires_at=expires_at
                )
            )
            s.commit()

    def session_editor(self, session_id: str, at: dt.datetime | None = None) -> str | None:
        """The editor a live session belongs to; None when it ended, expired or never was."""
        with self.errors(), self.session() as s:
            found = s.exec(
                select(EditorSessionRow.editor).where(
                    col(EditorSessionRow.id) == session_id,
                    col(EditorSessionRow.expires_at) > (at or now()),
                )
            )
            return found.first()

    def end_session(self, session_id: str) -> None:
        with self.errors(), self.session() as s:
            s.exec(delete(EditorSessionRow).where(col(EditorSessionRow.id) == session_id))
            s.commit()

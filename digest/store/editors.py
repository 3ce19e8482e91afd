"""Named editor accounts: a name and an argon2 hash of the password (never the password).
Removing an account ends its sessions too."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, update
from sqlmodel import col, select

from .base import BaseStore, insert_new
from .tables import EditorRow, EditorSessionRow, now


class EditorStore(BaseStore):
    def add_editor(self, name: str, password_hash: str) -> bool:
        """Record a new account; False (and nothing changed) when the name is taken."""
        values = {"name": name, "password_hash": password_hash, "created_at": now()}
        with self.errors(), self.engine.begin() as conn:
            # RETURNING says whether the row went in (rowcount is not reliable across drivers).
            insert = insert_new(self.engine, EditorRow).returning(col(EditorRow.name))
            return conn.execute(insert, values).first() is not None

    def editor_hash(self, name: str) -> str | None:
        """The account's password hash; None when there is no such account."""
        with self.errors(), self.session() as s:
            row = s.get(EditorRow, name)
        return row.password_hash if row is not None else None

    def set_editor_hash(self, name: str, password_hash: str) -> None:
        with self.errors(), self.engine.begin() as conn:
            conn.execute(
                update(EditorRow)
                .where(col(EditorRow.name) == name)
                .values(password_hash=password_hash)
            )

    def remove_editor(self, name: str) -> bool:
        """Delete the account and end its sessions; False when there is no such account."""
        with self.errors(), self.engine.begin() as conn:
            gone = conn.execute(delete(EditorRow).where(col(EditorRow.name) == name)).rowcount
            if gone:
                conn.execute(delete(EditorSessionRow).where(col(EditorSessionRow.editor) == name))
            return bool(gone)

    def editors(self) -> list[tuple[str, dt.datetime]]:
        """Every account's name and creation time, by name."""
        with self.errors(), self.session() as s:
            rows = s.exec(select(EditorRow.name, EditorRow.created_at).order_by(EditorRow.name))
            return [(name, created) for name, created in rows]

    def has_editors(self) -> bool:
        with self.errors(), self.session() as s:
            return s.exec(select(EditorRow.name).limit(1)).first() is not None


__all__ = ["EditorStore"]

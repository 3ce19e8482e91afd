"""Section keywords learned from the editor's desk, used by compose beside the config's.

One row per (section, word); the word is stored folded, as the classifier reads it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import delete
from sqlmodel import col, select

from .base import BaseStore, insert_new
from .tables import KeywordRow, now


class KeywordStore(BaseStore):
    def add_keywords(self, section: str, words: Iterable[str], by: str) -> int:
        """Record the words for the section; how many were new (those on record are skipped)."""
        at = now()
        rows = [
            {"section": section, "word": w, "added_by": by, "added_at": at}
            for w in dict.fromkeys(words)
        ]
        if not rows:
            return 0
        # RETURNING gives back only the rows inserted (rowcount is -1 for psycopg here).
        insert = insert_new(self.engine, KeywordRow).returning(col(KeywordRow.word))
        with self.errors(), self.engine.begin() as conn:
            return len(conn.execute(insert, rows).all())

    def remove_keyword(self, section: str, word: str) -> bool:
        """Forget one learned word; False when it was not on record."""
        with self.errors(), self.engine.begin() as conn:
            gone = conn.execute(
                delete(KeywordRow).where(
                    col(KeywordRow.section) == section, col(KeywordRow.word) == word
                )
            ).rowcount
        return bool(gone)

    def learned_keywords(self) -> list[tuple[str, str, str, dt.datetime]]:
        """(section, word, added_by, added_at) of every learned word, by section and word."""
        query = select(KeywordRow).order_by(col(KeywordRow.section), col(KeywordRow.word))
        with self.errors(), self.session() as s:
            return [(r.section, r.word, r.added_by, r.added_at) for r in s.exec(query)]


__all__ = ["KeywordStore"]

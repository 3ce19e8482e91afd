"""Stories and the files they were ingested from."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import Connection
from sqlalchemy.exc import DataError, IntegrityError, StatementError
from sqlmodel import col, func, select

from ..model import Document
from .base import BaseStore, insert_new
from .tables import FileRow, StoryRow, now

CHUNK = 500  # values per IN (...) list


def _reason(exc: StatementError) -> str:
    """The database's own first line (no SQL, no parameters: a document's text stays out)."""
    lines = str(exc.orig).strip().splitlines() if exc.orig else []
    return lines[0][:200] if lines else type(exc).__name__


class StoryStore(BaseStore):
    def known_files(self, hashes: Iterable[str]) -> set[str]:
        wanted = list(set(hashes))
        found: set[str] = set()
        with self.errors(), self.session() as s:
            for i in range(0, len(wanted), CHUNK):
                chunk = wanted[i : i + CHUNK]
                found.update(s.exec(select(FileRow.sha256).where(col(FileRow.sha256).in_(chunk))))
        return found

    def add_documents(self, items: Iterable[tuple[Document, str, str, str]]) -> list[bool | str]:
        """Store (document, fingerprint, path, file sha256) items in one transaction.

        Returns, per item, True when stored, False when the same story was already there, or
        why the database refused it: one refused document never drops the others. The batch
        goes in as plain multi-row INSERTs (ingest runs at thousands of documents a second)
        inside one savepoint; only when the database refuses it is it stored again one
        savepoint per document, to find and leave out the bad ones.
        """
        items = list(items)
        stamp = now()
        with self.errors(), self.engine.begin() as conn:
            existing = self._story_ids(conn, [fp for _, fp, _, _ in items])
            try:
                with conn.begin_nested():
                    return self._insert(conn, items, dict(existing), stamp)
            except (DataError, IntegrityError):
                pass
            results: list[bool | str] = []
            for item in items:
                known = dict(existing)  # kept only when the savepoint is
                try:
                    with conn.begin_nested():
                        results += self._insert(conn, [item], known, stamp)
                except (DataError, IntegrityError) as exc:
                    results.append(f"refused by the database: {_reason(exc)}")
                else:
                    existing = known
            return results

    def _insert(
        self,
        conn: Connection,
        items: list[tuple[Document, str, str, str]],
        existing: dict[str, int],
        stamp: dt.datetime,
    ) -> list[bool | str]:
        """Insert the new stories among `items` and a file row for each; `existing` (story ids
        by fingerprint) gains the new ones."""
        results: list[bool | str] = []
        new: dict[str, dict[str, object]] = {}
        for doc, fp, path, _ in items:
            stored = fp not in existing and fp not in new
            if stored:
                new[fp] = {
                    "fingerprint": fp,
                    "date": doc.date,
                    "title": doc.title,
                    "title_source": doc.title_source,
                    "source": doc.source,
                    "section_label": doc.section_label,
                    "body": list(doc.body),
                    "related_links": list(doc.related_links),
                    "headline_groups": [list(g) for g in doc.headline_groups],
                    "path": path,
                    "ingested_at": stamp,
                }
            results.append(stored)
        if new:
            conn.execute(insert_new(self.engine, StoryRow), list(new.values()))
            existing.update(self._story_ids(conn, list(new)))
        files: dict[str, dict[str, object]] = {}
        for _, fp, path, sha in items:
            files.setdefault(
                sha,
                {"sha256": sha, "path": path, "story_id": existing[fp], "ingested_at": stamp},
            )
        if files:
            conn.execute(insert_new(self.engine, FileRow), list(files.values()))
        return results

    @staticmethod
    def _story_ids(conn: Connection, prints: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for i in range(0, len(prints), CHUNK):
            query = select(StoryRow.fingerprint, StoryRow.id).where(
                col(StoryRow.fingerprint).in_(prints[i : i + CHUNK])
            )
            found.update({fp: sid for fp, sid in conn.execute(query) if sid is not None})
        return found

    def documents_for(self, date: str) -> list[Document]:
        with self.errors(), self.session() as s:
            rows = s.exec(select(StoryRow).where(StoryRow.date == date).order_by(col(StoryRow.id)))
            return [r.document() for r in rows]

    def story_days(self) -> list[tuple[str, int]]:
        """Days that have stories, newest first, with their story counts."""
        with self.errors(), self.session() as s:
            rows = s.exec(
                select(StoryRow.date, func.count())
                .group_by(StoryRow.date)
                .order_by(col(StoryRow.date).desc())
            )
            return [(d, n) for d, n in rows]

"""Stories and the files they were ingested from."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection
from sqlmodel import col, func, select

from ..model import Document
from .base import BaseStore, insert_new
from .tables import FileRow, StoryRow, now

CHUNK = 500  # values per IN (...) list


class StoryStore(BaseStore):
    def known_files(self, hashes: Iterable[str]) -> set[str]:
        wanted = list(set(hashes))
        found: set[str] = set()
        with self.errors(), self.session() as s:
            for i in range(0, len(wanted), CHUNK):
                chunk = wanted[i : i + CHUNK]
                found.update(s.exec(select(FileRow.sha256).where(col(FileRow.sha256).in_(chunk))))
        return found

    def add_documents(self, items: Iterable[tuple[Document, str, str, str]]) -> list[bool]:
        """Store (document, fingerprint, path, file sha256) items in one transaction.

        Returns, per item, True when stored and False when the same story was already there.
        Plain multi-row INSERTs, not ORM objects: ingest runs at thousands of documents a
        second.
        """
        items = list(items)
        stamp = now()
        with self.errors(), self.engine.begin() as conn:
            existing = self._story_ids(conn, [fp for _, fp, _, _ in items])
            results: list[bool] = []
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

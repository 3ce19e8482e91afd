"""The database: the only module that imports sqlmodel.

SQLite by default (a file in the working folder); PostgreSQL through a database URL.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import JSON, Column, Text, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlmodel import Field, Session, SQLModel, col, create_engine, func, select

from .errors import ConfigError, DigestError, NotFoundError
from .model import Digest, Document


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class StoryRow(SQLModel, table=True):
    __tablename__ = "stories"

    id: int | None = Field(default=None, primary_key=True)
    fingerprint: str = Field(unique=True, max_length=64)
    date: str = Field(index=True, max_length=10)
    title: str = Field(sa_column=Column(Text, nullable=False))
    title_source: str = Field(max_length=16)
    source: str | None = Field(default=None, max_length=200)
    section_label: str | None = Field(default=None, max_length=200)
    body: list[str] = Field(sa_column=Column(JSON, nullable=False))
    related_links: list[str] = Field(sa_column=Column(JSON, nullable=False))
    headline_groups: list[list[str]] = Field(sa_column=Column(JSON, nullable=False))
    path: str = Field(sa_column=Column(Text, nullable=False))
    ingested_at: dt.datetime = Field(default_factory=_now)

    def document(self) -> Document:
        return Document.from_json(
            {
                "date": self.date, "title": self.title, "title_source": self.title_source,
                "source": self.source, "section_label": self.section_label, "body": self.body,
                "related_links": self.related_links, "headline_groups": self.headline_groups,
            }
        )


class FileRow(SQLModel, table=True):
    """Every file ingested, by content hash, so a file already read is not read again."""

    __tablename__ = "ingested_files"

    sha256: str = Field(primary_key=True, max_length=64)
    path: str = Field(sa_column=Column(Text, nullable=False))
    story_id: int | None = Field(default=None, foreign_key="stories.id")
    ingested_at: dt.datetime = Field(default_factory=_now)


class DigestRow(SQLModel, table=True):
    __tablename__ = "digests"

    date: str = Field(primary_key=True, max_length=10)
    subject: str = Field(sa_column=Column(Text, nullable=False))
    preheader: str = Field(sa_column=Column(Text, nullable=False))
    data: str = Field(sa_column=Column(Text, nullable=False))  # Digest.to_json()
    composed_at: dt.datetime = Field(default_factory=_now)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets a preview read while a send writes; the timeout waits out a writer's lock.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str) -> Engine:
    try:
        engine = create_engine(url)
    except (ArgumentError, ImportError) as exc:
        raise ConfigError(f"database_url: cannot use {_safe_url(url)}: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _safe_url(url: str) -> str:
    """The URL with any password masked, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


@contextmanager
def _friendly_errors(url: str) -> Iterator[None]:
    try:
        yield
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "connection failed"
        raise DigestError(f"database {_safe_url(url)}: {reason}") from None


class Store:
    """Stories, digests and (later) subscribers and deliveries."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        with _friendly_errors(url):
            SQLModel.metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # ---- ingest ---------------------------------------------------------------------------

    def known_files(self, hashes: Iterable[str]) -> set[str]:
        wanted = list(set(hashes))
        found: set[str] = set()
        with self.session() as s:
            for i in range(0, len(wanted), 500):
                chunk = wanted[i : i + 500]
                found.update(s.exec(select(FileRow.sha256).where(col(FileRow.sha256).in_(chunk))))
        return found

    def add_documents(self, items: Iterable[tuple[Document, str, str, str]]) -> list[bool]:
        """Store (document, fingerprint, path, file sha256) items in one transaction.

        Returns, per item, True when stored and False when the same story was already there.
        """
        items = list(items)
        results: list[bool] = []
        with _friendly_errors(self.url), self.session() as s:
            prints = [fp for _, fp, _, _ in items]
            existing: dict[str, int | None] = {}
            for i in range(0, len(prints), 500):
                rows = s.exec(
                    select(StoryRow.fingerprint, StoryRow.id).where(
                        col(StoryRow.fingerprint).in_(prints[i : i + 500])
                    )
                )
                existing.update({fp: sid for fp, sid in rows})
            files_seen: set[str] = set()
            for doc, fp, path, sha in items:
                story_id = existing.get(fp)
                stored = fp not in existing
                if stored:
                    row = StoryRow(
                        fingerprint=fp, date=doc.date, title=doc.title,
                        title_source=doc.title_source, source=doc.source,
                        section_label=doc.section_label, body=list(doc.body),
                        related_links=list(doc.related_links),
                        headline_groups=[list(g) for g in doc.headline_groups], path=path,
                    )
                    s.add(row)
                    s.flush()
                    story_id = row.id
                    existing[fp] = story_id
                if sha not in files_seen and s.get(FileRow, sha) is None:
                    s.add(FileRow(sha256=sha, path=path, story_id=story_id))
                    files_seen.add(sha)
                results.append(stored)
            s.commit()
        return results

    def documents_for(self, date: str) -> list[Document]:
        with _friendly_errors(self.url), self.session() as s:
            rows = s.exec(select(StoryRow).where(StoryRow.date == date).order_by(col(StoryRow.id)))
            return [r.document() for r in rows]

    def story_days(self) -> list[tuple[str, int]]:
        """Days that have stories, newest first, with their story counts."""
        with _friendly_errors(self.url), self.session() as s:
            rows = s.exec(
                select(StoryRow.date, func.count()).group_by(StoryRow.date)
                .order_by(col(StoryRow.date).desc())
            )
            return [(d, n) for d, n in rows]

    # ---- digests --------------------------------------------------------------------------

    def save_digest(self, digest: Digest) -> None:
        with _friendly_errors(self.url), self.session() as s:
            row = s.get(DigestRow, digest.date) or DigestRow(date=digest.date, subject="",
                                                              preheader="", data="")
            row.subject = digest.subject
            row.preheader = digest.preheader
            row.data = json.dumps(digest.to_json(), ensure_ascii=False)
            row.composed_at = _now()
            s.add(row)
            s.commit()

    def get_digest(self, date: str) -> Digest:
        with _friendly_errors(self.url), self.session() as s:
            row = s.get(DigestRow, date)
        if row is None:
            raise NotFoundError(f"no digest for {date}: run 'digest compose --date {date}' first")
        return Digest.from_json(json.loads(row.data))

    def has_digest(self, date: str) -> bool:
        with _friendly_errors(self.url), self.session() as s:
            return s.get(DigestRow, date) is not None

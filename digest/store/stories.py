"""Stories and the files they were ingested from.

A story is one article, however many times and ways it arrives. A new document is matched in
this order:

1. the same body (fingerprint), on any day: a syndicated copy, a duplicate; but from the same
   file as the stored story it is that file corrected around the same body (its links, its
   title), and it replaces the story. A body a correction has since replaced is a duplicate
   too: that older text must not come back.

Then only against the stored stories of its own day (different days never merge):

2. the same file (absolute path): a corrected version of that file; it replaces the story;
3. the same lead (first words) or the same title (folded words), where
   - one body is the other's beginning, word for word (the last may be cut short): a shorter
     capture of the article, and the fuller text stays (the new one replaces the stored one
     only when it is fuller);
   - else, under the same title, bodies that share at least SAME_ARTICLE: the article
     corrected, which replaces the stored story;
   - else, with the same lead, bodies that are nearly the same (NEAR_DUPLICATE): another
     capture of the article, and again the fuller text stays.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import Connection, bindparam, exists, update
from sqlalchemy.exc import DataError, IntegrityError, StatementError
from sqlmodel import col, func, select

from ..ingest.lines import without_subheadings
from ..model import Document
from ..text import fold, match_key
from .base import BaseStore, insert_new
from .tables import DeliveryRow, FileRow, SendRow, StoryRow, now

CHUNK = 500  # values per IN (...) list

# A story's lead is its first LEAD_WORDS words: a capture of the same article shares them,
# however much of the rest it holds. Twelve words are most of a first sentence, which two
# different articles do not share; a body shorter than that is never matched by its lead.
LEAD_WORDS = 12
_LEAD_CHARS = 240  # enough for LEAD_WORDS + 1 words of English, nearly always
SHINGLE_WORDS = 4  # bodies are compared as sets of 4-word runs (shingles)
# Two captures with the same lead are the same text when at least this share of the shorter
# one's 4-word runs are in the other. One changed word loses at most four runs, so a few
# edits, a paragraph cut or added, or a capture missing its end stay well above it; two
# reports of the same event by different writers share a few stock phrases, far below it.
NEAR_DUPLICATE = 0.8
# With the same day and title, bodies that share at least this share of the longer one's
# 4-word runs are the same article corrected: a correction keeps most of its text. Measured
# on the longer body, because unrelated stories under one generic title ("In brief") may
# share a whole paragraph of agency background, which is much of a short story; a rewrite
# that keeps less than half is stored as a story of its own.
SAME_ARTICLE = 0.5

Outcome = Literal["stored", "replaced", "duplicate"]
Item = tuple[Document, str, str, str]  # document, fingerprint, path, file sha256


@dataclass(frozen=True)
class Refused:
    """The database refused a document; `reason` is its own first line."""

    reason: str


def _reason(exc: StatementError) -> str:
    """The database's own first line (no SQL, no parameters: a document's text stays out)."""
    lines = str(exc.orig).strip().splitlines() if exc.orig else []
    return lines[0][:200] if lines else type(exc).__name__


# Bytes that end a word: every ASCII byte but a lowercase letter or a digit (text is folded
# first); the bytes of other characters stay in their words.
_SEPARATORS = bytes(b if 48 <= b <= 57 or 97 <= b <= 122 or b >= 128 else 32 for b in range(256))


def _tokens(text: str) -> list[bytes]:
    """The words of a text, as a capture of an article is compared with another: folded, and
    split at whatever is not a letter or digit ("jam-resistant" is two). A byte table, where
    text.words() runs a regular expression: a fifth of the cost, which is most of what a
    document costs to compare."""
    folded = text.casefold() if text.isascii() else fold(text)
    return folded.encode("utf-8").translate(_SEPARATORS).split()


def _key(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


ITEM = "item:"  # what a feed item's "path" starts with: its source and GUID (or link)


def _where(path: str) -> str:
    """A file's absolute path (the same file, whichever way it was named), or a feed item's
    name as it is."""
    return path if path.startswith(ITEM) else os.path.abspath(path)


def story_keys(body: Sequence[str], title: str, path: str) -> tuple[str | None, str, str]:
    """(lead, title key, path key) of a story read from `path`, as stored in the stories
    table's indexed columns: hashes of its body's first words, of its title's words, and of
    the file's absolute path (the same file, whichever way it was named)."""
    lead: list[bytes] = []
    for paragraph in without_subheadings(
        body
    ):  # the first paragraph or two: no need to fold them all
        # Its first few hundred characters, mostly: a word cut off at the end is dropped,
        # which one more word than needed makes sure of (a word ends before the next one).
        found = _tokens(paragraph[:_LEAD_CHARS])
        if len(found) <= LEAD_WORDS - len(lead) and len(paragraph) > _LEAD_CHARS:
            found = _tokens(paragraph)
        lead += found
        if len(lead) >= LEAD_WORDS:
            break
    return (
        _key(b" ".join(lead[:LEAD_WORDS])) if len(lead) >= LEAD_WORDS else None,
        _key(match_key(title).encode("utf-8")),
        _key(_where(path).encode("utf-8", "surrogateescape")),
    )


def _shingles(text: list[bytes]) -> set[int]:
    """The text's runs of SHINGLE_WORDS words, each as its hash: a set of ints is cheap to
    intersect, and is not for the garbage collector to walk (sets of tuples made each
    comparison five times dearer). Hashes never leave the process."""
    return set(map(hash, zip(*(text[i:] for i in range(SHINGLE_WORDS)), strict=False)))


@dataclass(eq=False)
class _Story:
    """A story as matching sees it: stored, or added or replaced by the batch at hand."""

    id: int | None
    date: str
    fingerprint: str
    lead: str | None
    title_key: str | None
    path_key: str | None
    body: Sequence[str]
    row: dict[str, object] = field(default_factory=dict)  # to write: new, or a replacement
    _words: list[bytes] | None = field(default=None, repr=False)
    _shingles: set[int] | None = field(default=None, repr=False)

    def words(self) -> list[bytes]:
        if self._words is None:
            self._words = _tokens(" ".join(without_subheadings(self.body)))
        return self._words

    def shingles(self) -> set[int]:
        if self._shingles is None:
            self._shingles = _shingles(self.words())
        return self._shingles

    def index_keys(self) -> list[tuple[str, str, str]]:
        found = (("lead", self.lead), ("title", self.title_key), ("path", self.path_key))
        return [(kind, self.date, key) for kind, key in found if key]


def _overlap(mine: _Story, theirs: _Story, of_longer: bool = False) -> float:
    """The share of the shorter (or the longer) body's 4-word runs both bodies hold."""
    short, long = sorted((mine, theirs), key=lambda s: len(s.words()))
    shared = len(short.shingles() & long.shingles())
    runs = long.shingles() if of_longer else short.shingles()
    return shared / len(runs) if runs else 0.0


def _is_prefix(mine: _Story, theirs: _Story) -> bool:
    """Whether one body, as words, is where the other begins (its last word may be cut
    short: a capture can stop mid-word)."""
    short, long = sorted((mine.words(), theirs.words()), key=len)
    n = len(short)
    return n > 0 and long[: n - 1] == short[:-1] and long[n - 1].startswith(short[-1])


class _Matcher:
    """Places a batch's documents, in order, among the stored stories they may be versions
    of and the stories the batch itself adds; `changed` is what is to be written."""

    def __init__(self, stored: Iterable[_Story], superseded: dict[str, _Story]) -> None:
        self.by_print: dict[str, _Story] = {}
        self.by_key: dict[tuple[str, str, str], list[_Story]] = {}
        # Bodies a correction has replaced, and the story that holds the correction.
        self.superseded = superseded
        self.changed: list[_Story] = []
        for story in stored:
            self._index(story)

    def _index(self, story: _Story) -> None:
        self.by_print[story.fingerprint] = story
        for key in story.index_keys():
            self.by_key.setdefault(key, []).append(story)

    def _unindex(self, story: _Story) -> None:
        if self.by_print.get(story.fingerprint) is story:
            del self.by_print[story.fingerprint]
        for key in story.index_keys():
            self.by_key[key].remove(story)

    def _candidates(self, new: _Story) -> list[_Story]:
        """The stories of `new`'s day with its lead or its title."""
        found = {
            id(s): s
            for kind, key in (("lead", new.lead), ("title", new.title_key))
            if key
            for s in self.by_key.get((kind, new.date, key), ())
        }
        return list(found.values())

    def place(self, new: _Story) -> tuple[Outcome, _Story]:
        same = self.by_print.get(new.fingerprint)
        if same is not None:
            if same.path_key == new.path_key:  # the same file, changed around the same body
                return "replaced", self._replace(same, new)
            return "duplicate", same
        older = self.superseded.get(new.fingerprint)
        if older is not None:  # a copy of a text since corrected: it must not come back
            return "duplicate", older
        for old in self.by_key.get(("path", new.date, new.path_key or ""), ()):
            return "replaced", self._replace(old, new)
        for old in self._candidates(new):
            if _is_prefix(new, old):
                return self._fuller(old, new)
            same_title = old.title_key == new.title_key
            if same_title and _overlap(new, old, of_longer=True) >= SAME_ARTICLE:
                return "replaced", self._replace(old, new)
            if old.lead == new.lead and _overlap(new, old) >= NEAR_DUPLICATE:
                return self._fuller(old, new)
        self._index(new)
        self.changed.append(new)
        return "stored", new

    def _fuller(self, old: _Story, new: _Story) -> tuple[Outcome, _Story]:
        """Two captures of one article: the fuller text stays (on a tie, the stored one)."""
        if len(new.words()) > len(old.words()):
            return "replaced", self._replace(old, new)
        return "duplicate", old

    def _replace(self, old: _Story, new: _Story) -> _Story:
        """`old` takes `new`'s text and keys, and keeps its id (or its place in the batch)."""
        self._unindex(old)
        if old.fingerprint != new.fingerprint:
            self.superseded[old.fingerprint] = old
        old.date, old.fingerprint, old.body, old.row = new.date, new.fingerprint, new.body, new.row
        old.lead, old.title_key, old.path_key = new.lead, new.title_key, new.path_key
        old._words, old._shingles = new._words, new._shingles
        self._index(old)
        if old not in self.changed:
            self.changed.append(old)
        return old


def _new_story(item: Item, stamp: dt.datetime) -> _Story:
    doc, fp, path, _ = item
    lead, title_key, path_key = story_keys(doc.body, doc.title, path)
    row: dict[str, object] = {
        "fingerprint": fp,
        "date": doc.date,
        "title": doc.title,
        "title_source": doc.title_source,
        "source": doc.source,
        "section_label": doc.section_label,
        "body": list(doc.body),
        "related_links": list(doc.related_links),
        "headline_groups": [list(g) for g in doc.headline_groups],
        "url": doc.url,
        "categories": list(doc.categories) or None,
        "path": path,
        "lead": lead,
        "title_key": title_key,
        "path_key": path_key,
        "ingested_at": stamp,
    }
    return _Story(None, doc.date, fp, lead, title_key, path_key, doc.body, row)


_MATCH_COLUMNS = "id, date, fingerprint, lead, title_key, path_key"
_UPDATE = update(StoryRow).where(col(StoryRow.id) == bindparam("story_id"))


class StoryStore(BaseStore):
    def known_files(self, hashes: Iterable[str]) -> set[str]:
        wanted = list(set(hashes))
        found: set[str] = set()
        with self.errors(), self.session() as s:
            for i in range(0, len(wanted), CHUNK):
                chunk = wanted[i : i + CHUNK]
                found.update(s.exec(select(FileRow.sha256).where(col(FileRow.sha256).in_(chunk))))
        return found

    def add_documents(self, items: Iterable[Item]) -> list[Outcome | Refused]:
        """Store (document, fingerprint, path, file sha256) items in one transaction.

        Returns, per item, whether it was stored as a new story, replaced a stored one (see
        the module's docstring), or was a duplicate; or why the database refused it: one
        refused document never drops the others. The batch goes in as plain multi-row
        INSERTs and one UPDATE (ingest runs at thousands of documents a second) inside one
        savepoint; only when the database refuses it is it stored again one savepoint per
        document, to find and leave out the bad ones.
        """
        items = list(items)
        if not items:
            return []
        stamp = now()
        with self.errors(), self.engine.begin() as conn:
            try:
                with conn.begin_nested():
                    return self._add(conn, items, stamp)
            except (DataError, IntegrityError):
                pass
            results: list[Outcome | Refused] = []
            for item in items:
                try:
                    with conn.begin_nested():
                        results += self._add(conn, [item], stamp)
                except (DataError, IntegrityError) as exc:
                    results.append(Refused(f"refused by the database: {_reason(exc)}"))
            return results

    def _add(
        self, conn: Connection, items: list[Item], stamp: dt.datetime
    ) -> list[Outcome | Refused]:
        """Match `items` against the stored stories and each other; write what changed, and
        a file row for each item."""
        news = [_new_story(item, stamp) for item in items]
        stored = self._stored(conn, news)
        matcher = _Matcher(stored, self._superseded(conn, news, stored))
        placed = [matcher.place(new) for new in news]
        replaced = [s for s in matcher.changed if s.id is not None]
        if replaced:
            conn.execute(_UPDATE, [{"story_id": s.id, **s.row} for s in replaced])
        added = [s for s in matcher.changed if s.id is None]
        if added:
            conn.execute(insert_new(self.engine, StoryRow), [s.row for s in added])
            ids = self._story_ids(conn, [s.fingerprint for s in added])
            for story in added:
                story.id = ids[story.fingerprint]
        files: dict[str, dict[str, object]] = {}
        for (_, fp, path, sha), (_, story) in zip(items, placed, strict=True):
            files.setdefault(
                sha,
                {
                    "sha256": sha,
                    "path": path,
                    "story_id": story.id,
                    "fingerprint": fp,
                    "ingested_at": stamp,
                },
            )
        if files:
            conn.execute(insert_new(self.engine, FileRow), list(files.values()))
        return [outcome for outcome, _ in placed]

    @staticmethod
    def _stored(conn: Connection, news: list[_Story]) -> list[_Story]:
        """The stored stories `news` may be versions of: the same body; or the same day and
        the same file, title or lead. Indexed lookups only, in one query, then the bodies
        of what it found (usually nothing: most documents are new stories).

        The query is written out for the driver: SQLAlchemy's expanding IN lists cost three
        times what the database takes to answer, at two thousand values a batch."""
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        dates = sorted({s.date for s in news})
        wanted = [
            ("fingerprint", {s.fingerprint for s in news}),
            ("path_key", {s.path_key for s in news if s.path_key}),
            ("title_key", {s.title_key for s in news if s.title_key}),
            ("lead", {s.lead for s in news if s.lead}),
        ]
        parts: list[str] = []
        params: list[str] = []
        for column, keys in wanted:
            values = sorted(keys)
            for i in range(0, len(values), CHUNK):
                chunk = values[i : i + CHUNK]
                where = f"{column} IN ({', '.join([mark] * len(chunk))})"
                if column != "fingerprint":  # the other keys count on the same day only
                    where = f"date IN ({', '.join([mark] * len(dates))}) AND {where}"
                    params += dates
                parts.append(f"SELECT {_MATCH_COLUMNS} FROM stories WHERE {where}")
                params += chunk
        if not parts:
            return []
        found: dict[int, _Story] = {}
        for sid, date, fp, lead, title_key, path_key in conn.exec_driver_sql(
            " UNION ALL ".join(parts), tuple(params)
        ):
            found.setdefault(sid, _Story(sid, date, fp, lead, title_key, path_key, ()))
        ids = sorted(found)
        for i in range(0, len(ids), CHUNK):
            query = select(StoryRow.id, StoryRow.body).where(
                col(StoryRow.id).in_(ids[i : i + CHUNK])
            )
            for sid, body in conn.execute(query):
                found[sid or 0].body = body
        return [found[sid] for sid in ids]

    @staticmethod
    def _superseded(
        conn: Connection, news: list[_Story], stored: list[_Story]
    ) -> dict[str, _Story]:
        """The bodies among `news` that a file brought before and a correction has since
        replaced, each with the story that now holds the correction."""
        current = {s.fingerprint for s in stored}
        prints = sorted({s.fingerprint for s in news} - current)
        found: dict[str, int] = {}
        for i in range(0, len(prints), CHUNK):
            query = select(FileRow.fingerprint, FileRow.story_id).where(
                col(FileRow.fingerprint).in_(prints[i : i + CHUNK])
            )
            found.update({fp: sid for fp, sid in conn.execute(query) if fp and sid})
        if not found:
            return {}
        stories = {s.id: s for s in stored}
        for sid, date, fp in conn.execute(
            select(StoryRow.id, StoryRow.date, StoryRow.fingerprint).where(
                col(StoryRow.id).in_(sorted(set(found.values()) - stories.keys()))
            )
        ):
            stories[sid] = _Story(sid, date, fp, None, None, None, ())
        return {fp: stories[sid] for fp, sid in found.items() if sid in stories}

    @staticmethod
    def _story_ids(conn: Connection, prints: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for i in range(0, len(prints), CHUNK):
            query = select(StoryRow.fingerprint, StoryRow.id).where(
                col(StoryRow.fingerprint).in_(prints[i : i + CHUNK])
            )
            found.update({fp: sid for fp, sid in conn.execute(query) if sid is not None})
        return found

    def days_sent(self, days: Iterable[str]) -> set[str]:
        """Which of these days' digests went out already: a delivery of its send was sent."""
        wanted = sorted(set(days))
        delivered = exists().where(
            col(DeliveryRow.send_id) == col(SendRow.id), col(DeliveryRow.state) == "sent"
        )
        found: set[str] = set()
        with self.errors(), self.session() as s:
            for i in range(0, len(wanted), CHUNK):
                chunk = wanted[i : i + CHUNK]
                found.update(
                    s.exec(select(SendRow.date).where(col(SendRow.date).in_(chunk), delivered))
                )
        return found

    def documents_for(self, date: str) -> list[Document]:
        with self.errors(), self.session() as s:
            rows = s.exec(select(StoryRow).where(StoryRow.date == date).order_by(col(StoryRow.id)))
            return [r.document() for r in rows]

    def item_days(self, paths: Iterable[str]) -> dict[str, str]:
        """The day each of these feed items (`item:` paths) is stored under, if it is."""
        keys = {story_keys((), "", p)[2]: p for p in paths}
        found: dict[str, str] = {}
        wanted = sorted(keys)
        with self.errors(), self.session() as s:
            for i in range(0, len(wanted), CHUNK):
                query = select(StoryRow.path_key, StoryRow.date).where(
                    col(StoryRow.path_key).in_(wanted[i : i + CHUNK])
                )
                found.update((keys[k], d) for k, d in s.exec(query) if k in keys)
        return found

    def stories_for(self, date: str) -> list[tuple[str, Document]]:
        """The day's stories, each with its id (its row's, which a correction keeps)."""
        with self.errors(), self.session() as s:
            rows = s.exec(select(StoryRow).where(StoryRow.date == date).order_by(col(StoryRow.id)))
            return [(str(r.id), r.document()) for r in rows]

    def story_days(self) -> list[tuple[str, int]]:
        """Days that have stories, newest first, with their story counts."""
        with self.errors(), self.session() as s:
            rows = s.exec(
                select(StoryRow.date, func.count())
                .group_by(StoryRow.date)
                .order_by(col(StoryRow.date).desc())
            )
            return [(d, n) for d, n in rows]

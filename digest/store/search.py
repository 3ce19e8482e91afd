"""What the archive reads about stories: one story for its page, the published stories with a
given title (for headline links), and full-text search over the stories of published days
(those whose send has begun): SQLite's FTS5 table `stories_fts`, kept in step with `stories`
by triggers, or PostgreSQL's full-text search over a GIN expression index (migration 0008).

The reader's words are never handed to a query parser as they are: on SQLite each word is
quoted (FTS5 syntax in them is just text); PostgreSQL's websearch_to_tsquery never fails.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import text
from sqlmodel import col, select

from ..model import Document
from .base import BaseStore
from .stories import CHUNK
from .tables import SendRow, StoryRow

MAX_TERMS = 16  # words of a query that count; the rest are dropped
MAX_CHARS = 1000  # of a query, whoever calls (the web side allows far fewer)
# The document as PostgreSQL indexes it: migration 0008 builds the GIN index on exactly this
# expression, and the planner uses the index only for the same expression.
PG_DOCUMENT = (
    "(setweight(to_tsvector('english'::regconfig, title), 'A') || "
    "setweight(to_tsvector('english'::regconfig, body), 'B'))"
)
_WORD = re.compile(r"\w+")

_SQLITE = text(
    "SELECT s.id, s.date FROM stories_fts JOIN stories AS s ON s.id = stories_fts.rowid "
    "WHERE stories_fts MATCH :q AND s.date IN (SELECT date FROM sends) "
    "ORDER BY bm25(stories_fts, 5.0, 1.0), s.date DESC, s.id LIMIT :n"
)
_POSTGRES = text(
    f"SELECT s.id, s.date FROM stories AS s, websearch_to_tsquery('english', :q) AS q "
    f"WHERE {PG_DOCUMENT} @@ q AND s.date IN (SELECT date FROM sends) "
    f"ORDER BY ts_rank_cd({PG_DOCUMENT}, q) DESC, s.date DESC, s.id LIMIT :n"
)


@dataclass(frozen=True)
class SearchHit:
    """A story that matched: its id and day, best first."""

    id: int
    date: str


def clean_query(query: str, max_chars: int) -> str:
    """The query without control characters (PostgreSQL refuses NUL), at most `max_chars`."""
    kept = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in query)
    return " ".join(kept.split())[:max_chars]


def fts5_query(query: str) -> str:
    """Every word of `query` as a quoted FTS5 string, all required: whatever the reader
    typed ("AND", "NEAR(", a stray quote or star) is searched for as words, never parsed."""
    return " ".join(f'"{w}"' for w in _WORD.findall(query)[:MAX_TERMS])


class SearchStore(BaseStore):
    def search_stories(self, query: str, limit: int) -> list[SearchHit]:
        """Stories of published days matching `query` (title words weigh more), best first;
        nothing for a query without words."""
        query = clean_query(query, MAX_CHARS)
        if not _WORD.search(query):
            return []
        if self.is_sqlite:
            statement, q = _SQLITE, fts5_query(query)
        else:
            statement, q = _POSTGRES, " ".join(query.split()[: MAX_TERMS * 2])
        with self.errors(), self.engine.connect() as conn:
            rows = conn.execute(statement, {"q": q, "n": limit}).all()
        return [SearchHit(int(sid), str(date)) for sid, date in rows]

    def story(self, story_id: int) -> Document | None:
        """One story by its id (None: no such story), for its archive page."""
        with self.errors(), self.session() as s:
            row = s.get(StoryRow, story_id)
            return None if row is None else row.document()

    def published_by_title(
        self, title_keys: Iterable[str], before: str
    ) -> list[tuple[str, str, int]]:
        """(title key, date, id) of the stories of published days before `before` whose
        title key (story_keys) is one of `title_keys`, newest day first. One index probe
        per published day: sends is one row a day, and (date, title_key) is indexed."""
        wanted = sorted(set(title_keys))
        found: list[tuple[str, str, int]] = []
        with self.errors(), self.session() as s:
            for i in range(0, len(wanted), CHUNK):
                query = (
                    select(StoryRow.title_key, StoryRow.date, StoryRow.id)
                    .join(SendRow, col(SendRow.date) == col(StoryRow.date))
                    .where(
                        col(StoryRow.date) < before,
                        col(StoryRow.title_key).in_(wanted[i : i + CHUNK]),
                    )
                )
                found += [(k or "", d, sid or 0) for k, d, sid in s.exec(query)]
        return sorted(found, key=lambda f: (f[1], f[2]), reverse=True)

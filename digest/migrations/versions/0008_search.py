"""Archive search (issue #14): full-text search over the stories' titles and bodies.

SQLite: an FTS5 table `stories_fts` (rowid = the story's id; Porter stemming, accents
folded) that triggers on `stories` keep in step; the body goes in as its paragraphs' text
(json_each), not as the JSON it is stored as. PostgreSQL: a GIN index on the stories' weighted
tsvector (title A, body B), the expression digest/store/search.py queries. The stories already
stored are indexed here (FTS5: filled from `stories`; PostgreSQL: the index is built over them).

A later migration that rebuilds `stories` on SQLite (batch_alter_table) drops the triggers
with the old table: it must make them again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Kept here as it was at this revision, not imported: a migration must not change later.
PG_DOCUMENT = (
    "(setweight(to_tsvector('english'::regconfig, title), 'A') || "
    "setweight(to_tsvector('english'::regconfig, body), 'B'))"
)
_BODY = "(SELECT group_concat(value, char(10)) FROM json_each({row}.body))"
_ADD = "INSERT INTO stories_fts(rowid, title, body) VALUES (new.id, new.title, {body});".format(
    body=_BODY.format(row="new")
)
_SQLITE_UP = [
    "CREATE VIRTUAL TABLE stories_fts USING fts5("
    "title, body, tokenize = 'porter unicode61 remove_diacritics 2')",
    f"CREATE TRIGGER stories_fts_insert AFTER INSERT ON stories BEGIN {_ADD} END",
    "CREATE TRIGGER stories_fts_delete AFTER DELETE ON stories BEGIN "
    "DELETE FROM stories_fts WHERE rowid = old.id; END",
    "CREATE TRIGGER stories_fts_update AFTER UPDATE OF title, body ON stories BEGIN "
    f"DELETE FROM stories_fts WHERE rowid = old.id; {_ADD} END",
    "INSERT INTO stories_fts(rowid, title, body) "
    f"SELECT id, title, {_BODY.format(row='stories')} FROM stories",
]
_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS stories_fts_update",
    "DROP TRIGGER IF EXISTS stories_fts_delete",
    "DROP TRIGGER IF EXISTS stories_fts_insert",
    "DROP TABLE IF EXISTS stories_fts",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in _SQLITE_UP:
            op.execute(statement)
    else:
        op.execute(f"CREATE INDEX ix_stories_search ON stories USING gin ({PG_DOCUMENT})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in _SQLITE_DOWN:
            op.execute(statement)
    else:
        op.execute("DROP INDEX IF EXISTS ix_stories_search")

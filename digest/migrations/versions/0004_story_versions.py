"""Stories findable by day and lead, title or file: a corrected or fuller version of a story
replaces it instead of being stored beside it (see digest/store/stories.py).

Three nullable columns, each indexed with the date: `lead` (a hash of the body's first words),
`title_key` (of the title's folded words) and `path_key` (of the file's absolute path). The
stories already stored get theirs here, from the same function ingest uses; a relative path
is taken from the folder `digest db upgrade` runs in, which is where digest runs. Adding
nullable columns alters the table in place on SQLite too: no copy of `stories`, which
`ingested_files` points at. The index on the date alone goes: (date, lead) serves the same
queries, and every index is one more write for each story ingested.

`ingested_files` gains `fingerprint` (indexed): the body each file held, filled in for the files
already ingested from their stories, so that a copy of a text a correction has since replaced is
known as that older version.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from digest.store.stories import story_keys

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_KEYS = ("lead", "title_key", "path_key")
_PAGE = 1000  # stories read and updated at a time

_stories = sa.table(
    "stories",
    sa.column("id", sa.Integer()),
    sa.column("title", sa.Text()),
    sa.column("body", sa.JSON()),
    sa.column("path", sa.Text()),
    *(sa.column(key, sa.String(length=32)) for key in _KEYS),
)


def _fill_keys() -> None:
    bind = op.get_bind()
    t = _stories.c
    fill = (
        _stories.update()
        .where(t.id == sa.bindparam("story_id"))
        .values({key: sa.bindparam(f"new_{key}") for key in _KEYS})
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(t.id, t.title, t.body, t.path).where(t.id > last).order_by(t.id).limit(_PAGE)
        ).all()
        if not rows:
            return
        values = []
        for story_id, title, body, path in rows:
            keys = zip(_KEYS, story_keys(body, title, path), strict=True)
            values.append({"story_id": story_id, **{f"new_{k}": v for k, v in keys}})
        bind.execute(fill, values)
        last = rows[-1][0]


def upgrade() -> None:
    for key in _KEYS:
        op.add_column("stories", sa.Column(key, sa.String(length=32), nullable=True))
    _fill_keys()
    op.add_column("ingested_files", sa.Column("fingerprint", sa.String(length=64), nullable=True))
    op.execute(
        "UPDATE ingested_files SET fingerprint = "
        "(SELECT fingerprint FROM stories WHERE stories.id = ingested_files.story_id)"
    )
    op.create_index(
        op.f("ix_ingested_files_fingerprint"), "ingested_files", ["fingerprint"], unique=False
    )
    for key in _KEYS:
        op.create_index(op.f(f"ix_stories_date_{key}"), "stories", ["date", key], unique=False)
    op.drop_index(op.f("ix_stories_date"), table_name="stories")


def downgrade() -> None:
    op.drop_index(op.f("ix_ingested_files_fingerprint"), table_name="ingested_files")
    op.drop_column("ingested_files", "fingerprint")
    op.create_index(op.f("ix_stories_date"), "stories", ["date"], unique=False)
    for key in _KEYS:
        op.drop_index(op.f(f"ix_stories_date_{key}"), table_name="stories")
    for key in _KEYS:
        op.drop_column("stories", key)  # SQLite 3.35 and later drop a column in place

"""More sources (issue #15): a story from a feed or a web page keeps its original's address
(`url`) and the feed's categories; `sources` keeps each configured source's fetch state (the
validators of the last answer for a conditional GET, when it last worked, its last error).

The columns are added and dropped with a plain ALTER TABLE (nullable, nothing to fill in),
which does not rebuild `stories` on SQLite: the search triggers of 0008 stay as they are.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("stories", sa.Column("url", sa.Text(), nullable=True))
    op.add_column("stories", sa.Column("categories", sa.JSON(), nullable=True))
    # A feed item keeps the day it was first stored under: found by its path key alone.
    op.create_index(op.f("ix_stories_path_key"), "stories", ["path_key"])
    op.create_table(
        "sources",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("etag", sa.String(length=400), nullable=True),
        sa.Column("last_modified", sa.String(length=100), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ok_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("items", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sources")),
    )


def downgrade() -> None:
    op.drop_table("sources")
    op.drop_index(op.f("ix_stories_path_key"), table_name="stories")
    # ALTER TABLE ... DROP COLUMN in place on both (SQLite 3.35 and later): a batch rebuild
    # of `stories` would drop 0008's search triggers with the old table.
    op.execute("ALTER TABLE stories DROP COLUMN categories")
    op.execute("ALTER TABLE stories DROP COLUMN url")

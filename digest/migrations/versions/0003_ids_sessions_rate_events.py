"""Subscriber ids are never reused; editor sessions and rate-limit events live in the database.

On SQLite an INTEGER PRIMARY KEY without AUTOINCREMENT hands the highest id out again once
its row is removed, and the links in old emails name that id: the `subscribers` table is
rebuilt with AUTOINCREMENT, keeping every row, id and index, and the deliveries that point at
it. PostgreSQL's sequences never go back, so there it stays as it is.

`editor_sessions` lets signing out end a session; `rate_events` lets every process serving the
web side count against the same limits.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_HOLD = "_subscribers_0003"  # the rows, held while the table is rebuilt
_COLUMNS = "id, email, name, sections, status, hard_bounces, created_at, updated_at"


def _rebuild_subscribers(autoincrement: bool) -> None:
    """SQLite: the subscribers table made anew, with or without AUTOINCREMENT, in the open
    transaction, with foreign keys still enforced.

    Alembic's batch mode (copy to a new table, drop, rename) cannot do this here: dropping a
    table that deliveries point at counts every delivery as a broken reference, and
    `PRAGMA foreign_keys=OFF` does nothing inside a transaction. With the checks deferred to
    the commit, putting each row back under the same name (not renaming a copy) settles each
    delivery's reference again, so the commit finds none broken; and the whole rebuild commits
    or rolls back with the revision."""
    bind = op.get_bind()
    driver = bind.connection.driver_connection
    # Python's sqlite3 opens a transaction only before a data change; without one each
    # statement below would commit on its own, and the drop would be refused at once.
    if driver is not None and not getattr(driver, "in_transaction", True):
        bind.exec_driver_sql("BEGIN")
    op.execute("PRAGMA defer_foreign_keys = ON")  # until the commit, which switches it off
    op.execute(f"CREATE TABLE {_HOLD} AS SELECT {_COLUMNS} FROM subscribers")
    op.drop_table("subscribers")
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("sections", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("hard_bounces", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscribers")),
        sa.UniqueConstraint("email", name=op.f("uq_subscribers_email")),
        sqlite_autoincrement=autoincrement,
    )
    op.create_index(op.f("ix_subscribers_status"), "subscribers", ["status"], unique=False)
    # With AUTOINCREMENT, inserting the ids sets the table's high-water mark to the largest.
    op.execute(f"INSERT INTO subscribers ({_COLUMNS}) SELECT {_COLUMNS} FROM {_HOLD} ORDER BY id")
    op.drop_table(_HOLD)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_subscribers(autoincrement=True)
    op.create_table(
        "editor_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("editor", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_editor_sessions")),
    )
    op.create_index(
        op.f("ix_editor_sessions_expires_at"), "editor_sessions", ["expires_at"], unique=False
    )
    op.create_table(
        "rate_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_events")),
    )
    op.create_index(
        op.f("ix_rate_events_kind_key_hash_at"),
        "rate_events",
        ["kind", "key_hash", "at"],
        unique=False,
    )
    op.create_index(op.f("ix_rate_events_at"), "rate_events", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_rate_events_at"), table_name="rate_events")
    op.drop_index(op.f("ix_rate_events_kind_key_hash_at"), table_name="rate_events")
    op.drop_table("rate_events")
    op.drop_index(op.f("ix_editor_sessions_expires_at"), table_name="editor_sessions")
    op.drop_table("editor_sessions")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_subscribers(autoincrement=False)

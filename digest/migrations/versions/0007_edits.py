"""The editorial desk (issue #13): editors' overrides of a day's digest and the log of every
edit; the digest's composition before the overrides (`base`), and once sending has begun a
corrected copy for the archive (`archive`, `corrected_at`); section keywords added from the
desk; the editors told that a day waits for approval. Digests stored before this have no
base: their `data` is it, filled in here.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("digests") as batch:
        batch.add_column(sa.Column("base", sa.Text(), nullable=True))
        batch.add_column(sa.Column("archive", sa.Text(), nullable=True))
        batch.add_column(sa.Column("corrected_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE digests SET base = data")
    op.create_table(
        "overrides",
        sa.Column("date", sa.String(length=10), nullable=False),
        sa.Column("target", sa.String(length=400), nullable=False),
        sa.Column("field", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("date", "target", "field", name=op.f("pk_overrides")),
    )
    op.create_table(
        "edits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("date", sa.String(length=10), nullable=False),
        sa.Column("target", sa.String(length=400), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("field", sa.String(length=16), nullable=False),
        sa.Column("old", sa.Text(), nullable=False),
        sa.Column("new", sa.Text(), nullable=False),
        sa.Column("editor", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("archive_only", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_edits")),
    )
    op.create_index(op.f("ix_edits_date_id"), "edits", ["date", "id"])
    op.create_table(
        "section_keywords",
        sa.Column("section", sa.String(length=100), nullable=False),
        sa.Column("word", sa.String(length=100), nullable=False),
        sa.Column("added_by", sa.String(length=100), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("section", "word", name=op.f("pk_section_keywords")),
    )
    op.create_table(
        "approval_notices",
        sa.Column("date", sa.String(length=10), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("told_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("date", "address", name=op.f("pk_approval_notices")),
    )


def downgrade() -> None:
    op.drop_table("approval_notices")
    op.drop_table("section_keywords")
    op.drop_index(op.f("ix_edits_date_id"), table_name="edits")
    op.drop_table("edits")
    op.drop_table("overrides")
    with op.batch_alter_table("digests") as batch:
        batch.drop_column("corrected_at")
        batch.drop_column("archive")
        batch.drop_column("base")

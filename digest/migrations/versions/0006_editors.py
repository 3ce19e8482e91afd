"""Editors by name (issue #13): `editors` holds named editor accounts, a name and an argon2
hash of the password (see digest/store/editors.py). The `editor_password` setting goes on
signing in as `editor`, so existing set-ups need nothing filled in.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "editors",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_editors")),
    )


def downgrade() -> None:
    op.drop_table("editors")

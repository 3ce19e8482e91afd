"""A day's approval before it is sent (issue #13): `approvals` holds each editor's decision,
`approved` or `held`, one row per day (see digest/store/approvals.py). A day without a row
is approved under `approval = "auto"` and pending under `"required"`, so the days already
stored keep going out as before: nothing to fill in.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "approvals",
        sa.Column("date", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("date", name=op.f("pk_approvals")),
    )


def downgrade() -> None:
    op.drop_table("approvals")

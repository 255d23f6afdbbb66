"""The Slack bot's audits: where each audit's thread is, what it found, who synced it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
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
        "slack_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("channel_id", sa.String(), nullable=False),
        sa.Column("days", sa.String(), nullable=False),
        sa.Column("first_day", sa.String(), nullable=False),
        sa.Column("last_day", sa.String(), nullable=False),
        sa.Column("parent_ts", sa.String(), nullable=True),
        sa.Column("summary_ts", sa.String(), nullable=True),
        sa.Column("report", sa.Text(), nullable=True),
        sa.Column("synced_by", sa.String(), nullable=True),
        sa.Column("runs", sa.String(), nullable=True),
        sa.Column("daily_for", sa.String(), nullable=True),
        sa.Column("owner", sa.String(), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("daily_for"),
    )


def downgrade() -> None:
    op.drop_table("slack_audit")

"""The webhook inbox: each event Salla delivers, stored once, then turned into an engine run.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant", sa.String(), nullable=False),
        sa.Column("event", sa.String(), nullable=False),
        sa.Column("data_id", sa.String(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("merchant", "event", "data_id"),
    )
    op.create_index("ix_webhook_event_run_id", "webhook_event", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_webhook_event_run_id", table_name="webhook_event")
    op.drop_table("webhook_event")

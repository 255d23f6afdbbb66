"""Durable runs: a run's owner and lease, cancel through the database; the bot's Slack tables;
Salla ids widened to BIGINT.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, never a batch rebuild: other tables' foreign keys point at sync_run, and
    # SQLite cannot drop a table they reference. The server default fills the rows already there.
    op.add_column("sync_run", sa.Column("owner", sa.String(), nullable=True))
    op.add_column("sync_run", sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("sync_run", sa.Column("cancel_requested", sa.Boolean(), nullable=False, server_default=sa.false()))

    # Salla ids pass 1.4 billion already; PostgreSQL's INTEGER stops at 2^31 - 1. (SQLite's INTEGER
    # is 64-bit anyway; batch mode rebuilds these two tables there so the declared types match.)
    with op.batch_alter_table("ledger") as batch_op:
        batch_op.alter_column("salla_invoice_id", existing_type=sa.Integer(), type_=sa.BigInteger(),
                              existing_nullable=False)
        batch_op.alter_column("salla_order_id", existing_type=sa.Integer(), type_=sa.BigInteger(),
                              existing_nullable=False)
    with op.batch_alter_table("sync_record") as batch_op:
        for column in ("salla_order_id", "salla_reference", "salla_invoice_id"):
            batch_op.alter_column(column, existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=True)

    # The Slack bot's tables (bot/threads.py).
    op.create_table(
        "slack_thread",
        sa.Column("run_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("root_run_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("origin", sa.String(), nullable=False),
        sa.Column("requested_channel", sa.String(), nullable=True),
        sa.Column("channel_id", sa.String(), nullable=True),
        sa.Column("response_url", sa.String(), nullable=True),
        sa.Column("parent_ts", sa.String(), nullable=True),
        sa.Column("progress_ts", sa.String(), nullable=True),
        sa.Column("cancel_requested_by", sa.String(), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["sync_run.id"]),
        sa.PrimaryKeyConstraint("run_id"),
    )
    op.create_index("ix_slack_thread_root_run_id", "slack_thread", ["root_run_id"])
    op.create_table(
        "slack_rerun",
        sa.Column("source_run_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("requested_by", sa.String(), nullable=False),
        sa.Column("rerun_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["source_run_id"], ["sync_run.id"]),
        sa.PrimaryKeyConstraint("source_run_id"),
    )


def downgrade() -> None:
    op.drop_table("slack_rerun")
    op.drop_index("ix_slack_thread_root_run_id", table_name="slack_thread")
    op.drop_table("slack_thread")
    with op.batch_alter_table("sync_record") as batch_op:
        for column in ("salla_invoice_id", "salla_reference", "salla_order_id"):
            batch_op.alter_column(column, existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=True)
    with op.batch_alter_table("ledger") as batch_op:
        batch_op.alter_column("salla_order_id", existing_type=sa.BigInteger(), type_=sa.Integer(),
                              existing_nullable=False)
        batch_op.alter_column("salla_invoice_id", existing_type=sa.BigInteger(), type_=sa.Integer(),
                              existing_nullable=False)
    for column in ("cancel_requested", "lease_until", "owner"):  # DROP COLUMN: SQLite 3.35+
        op.drop_column("sync_run", column)

"""The first schema: runs, the Invoice Sync Log, the ledger and the Salla tokens.

This is the schema ``SQLModel.metadata.create_all`` made before migrations existed, so a database
created that way is stamped at this revision (see ``sync_core.store.schema``).

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("numbers", sa.Text(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("retry_of", sa.Integer(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("succeeded", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("not_found", sa.Integer(), nullable=False),
        sa.Column("cancelled", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["retry_of"], ["sync_run.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sync_run_created_at", "sync_run", ["created_at"])
    op.create_index("ix_sync_run_retry_of", "sync_run", ["retry_of"])

    op.create_table(
        "sync_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(), nullable=False),
        sa.Column("salla_order_id", sa.Integer(), nullable=True),
        sa.Column("salla_reference", sa.Integer(), nullable=True),
        sa.Column("salla_invoice_id", sa.Integer(), nullable=True),
        sa.Column("salla_invoice_number", sa.String(), nullable=True),
        sa.Column("kind", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("enerpize_id", sa.String(), nullable=True),
        sa.Column("enerpize_number", sa.String(), nullable=True),
        sa.Column("amount", sa.String(), nullable=True),
        sa.Column("currency", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["sync_run.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sync_record_created_at", "sync_record", ["created_at"])
    op.create_index("ix_sync_record_run_number", "sync_record", ["run_id", "number"])
    op.create_index("ix_sync_record_salla_invoice_id", "sync_record", ["salla_invoice_id"])
    op.create_index("ix_sync_record_salla_order_id", "sync_record", ["salla_order_id"])
    op.create_index("ix_sync_record_status", "sync_record", ["status"])

    op.create_table(
        "ledger",
        sa.Column("salla_invoice_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("salla_order_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("po_number", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("claim_token", sa.String(), nullable=True),
        sa.Column("claimed_by_run", sa.Integer(), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("enerpize_id", sa.String(), nullable=True),
        sa.Column("enerpize_number", sa.String(), nullable=True),
        sa.Column("amount", sa.String(), nullable=True),
        sa.Column("currency", sa.String(), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("salla_invoice_id"),
    )
    op.create_index("ix_ledger_salla_order_id", "ledger", ["salla_order_id"])

    op.create_table(
        "salla_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("access_token", sa.String(), nullable=False),
        sa.Column("refresh_token", sa.String(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seeded_from", sa.String(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("salla_token")
    op.drop_index("ix_ledger_salla_order_id", table_name="ledger")
    op.drop_table("ledger")
    for name in ("ix_sync_record_status", "ix_sync_record_salla_order_id", "ix_sync_record_salla_invoice_id",
                 "ix_sync_record_run_number", "ix_sync_record_created_at"):
        op.drop_index(name, table_name="sync_record")
    op.drop_table("sync_record")
    op.drop_index("ix_sync_run_retry_of", table_name="sync_run")
    op.drop_index("ix_sync_run_created_at", table_name="sync_run")
    op.drop_table("sync_run")

"""One lease per run, covering its sync and the reporting of its results; the report's progress and
who asked to cancel kept in the run; whether a result was already synced kept in its record.

The Slack thread's own lease and cancel flag go: the run's are the only ones.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UNREPORTED = sa.text("reported_at IS NULL")
OPEN = sa.text("lease_until IS NOT NULL")


def upgrade() -> None:
    op.add_column("sync_run", sa.Column("cancel_requested_by", sa.String(), nullable=True))
    op.add_column("sync_run", sa.Column("report_cursor", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("sync_run", sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("sync_record", sa.Column("already_synced", sa.Boolean(), nullable=False, server_default=sa.false()))

    # What was known before: a finished run is reported unless its Slack thread still held a lease
    # (its results were being posted); a record's reason said "already ..." when it was synced before.
    op.execute("UPDATE sync_run SET cancel_requested_by = (SELECT t.cancel_requested_by FROM slack_thread t "
               "WHERE t.run_id = sync_run.id)")
    op.execute("UPDATE sync_run SET reported_at = COALESCE(finished_at, created_at) "
               "WHERE state IN ('finished', 'cancelled') AND NOT EXISTS (SELECT 1 FROM slack_thread t "
               "WHERE t.run_id = sync_run.id AND t.lease_until IS NOT NULL)")
    # Unfinished runs keep their lease: whoever held them (or a process taking over) goes on.
    op.execute("UPDATE sync_record SET already_synced = (reason LIKE 'already synced%') "
               "WHERE salla_invoice_id IS NOT NULL")
    op.create_index("ix_sync_run_unreported", "sync_run", ["lease_until"],
                    sqlite_where=UNREPORTED, postgresql_where=UNREPORTED)

    op.drop_index("ix_slack_thread_open_lease", table_name="slack_thread")
    with op.batch_alter_table("slack_thread") as batch_op:
        batch_op.drop_column("lease_until")
        batch_op.drop_column("cancel_requested_by")


def downgrade() -> None:
    with op.batch_alter_table("slack_thread") as batch_op:
        batch_op.add_column(sa.Column("cancel_requested_by", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_slack_thread_open_lease", "slack_thread", ["lease_until"],
                    sqlite_where=OPEN, postgresql_where=OPEN)
    op.drop_index("ix_sync_run_unreported", table_name="sync_run")
    op.drop_column("sync_record", "already_synced")
    op.drop_column("sync_run", "reported_at")
    op.drop_column("sync_run", "report_cursor")
    op.drop_column("sync_run", "cancel_requested_by")

"""A partial index on the Slack threads still holding a lease (what every replica's resume loop reads).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

OPEN = sa.text("lease_until IS NOT NULL")


def upgrade() -> None:
    op.create_index("ix_slack_thread_open_lease", "slack_thread", ["lease_until"],
                    sqlite_where=OPEN, postgresql_where=OPEN)


def downgrade() -> None:
    op.drop_index("ix_slack_thread_open_lease", table_name="slack_thread")

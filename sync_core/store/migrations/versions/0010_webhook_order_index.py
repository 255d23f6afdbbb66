"""An index on the webhook inbox's order id: a waiting status change looks for an earlier
invoice.created of its order on every drain, and the inbox keeps every event it ever stored.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_webhook_event_order_id", "webhook_event", ["order_id"])


def downgrade() -> None:
    op.drop_index("ix_webhook_event_order_id", table_name="webhook_event")

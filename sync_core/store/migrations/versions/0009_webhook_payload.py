"""The webhook inbox keeps what each delivery carried (the invoice, or the order) and the document
kind it is about, so an automatic sync reads Salla only for what the delivery lacks.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_event") as table:
        table.add_column(sa.Column("kind", sa.String(), nullable=True))
        table.add_column(sa.Column("payload", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_event") as table:
        table.drop_column("payload")
        table.drop_column("kind")

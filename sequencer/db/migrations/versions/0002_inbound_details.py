"""inbound_messages: details JSON and the pending-rows index of the poller's apply phase

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 11:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("details", sa.JSON(), nullable=True))
        batch_op.create_index("ix_inbound_pending", ["mailbox", "applied"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_inbound_pending")
        batch_op.drop_column("details")

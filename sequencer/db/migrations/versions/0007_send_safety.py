"""send safety: a fencing token on the enrollment lease, a mailbox pause that resumes by itself

Revision ID: 0007_send_safety
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_send_safety"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("enrollments") as batch:
        batch.add_column(
            sa.Column("lease_attempt", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("mailbox_state") as batch:
        batch.add_column(sa.Column("pause_kind", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("pause_failures", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("mailbox_state") as batch:
        batch.drop_column("pause_failures")
        batch.drop_column("paused_until")
        batch.drop_column("pause_kind")
    with op.batch_alter_table("enrollments") as batch:
        batch.drop_column("lease_attempt")

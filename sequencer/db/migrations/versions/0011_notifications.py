"""notification claims (exactly-once alerts, escalations, digests, reminders, notices)

Revision ID: 0011_notifications
Revises: 0010_inbound_trust

One ``notifications`` row per notification, keyed so two workers can never both claim
it; ``mailbox_state.guard_since`` bounds what the deliverability guard counts after an
operator resumed a mailbox.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_notifications"
down_revision = "0010_inbound_trust"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("worker", sa.String(length=100), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("key", name=op.f("uq_notifications_key")),
    )
    op.create_index("ix_notifications_status", "notifications", ["status", "lease_until"])
    with op.batch_alter_table("mailbox_state") as batch:
        batch.add_column(sa.Column("guard_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mailbox_state") as batch:
        batch.drop_column("guard_since")
    op.drop_index("ix_notifications_status", table_name="notifications")
    op.drop_table("notifications")

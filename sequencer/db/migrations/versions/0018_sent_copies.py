"""durable Sent-folder copies (appended after the touch is recorded sent)

Revision ID: 0018_sent_copies
Revises: 0017_mailbox_health

One ``sent_copies`` row per sent touch whose copy is not in the rep's Sent folder yet:
written in the commit that records the touch sent, deleted once the copy is appended.
A row another worker left behind (crash, lease past) is looked up in Sent by Message-ID
before it is appended, so a copy is never filed twice.
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_sent_copies"
down_revision = "0017_mailbox_health"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sent_copies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_pk", sa.Integer(), nullable=False),
        sa.Column("mailbox", sa.String(length=100), nullable=False),
        sa.Column("message_id", sa.String(length=500), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_try_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_pk"], ["messages.id"], name=op.f("fk_sent_copies_message_pk_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sent_copies")),
        sa.UniqueConstraint("message_pk", name=op.f("uq_sent_copies_message_pk")),
    )
    op.create_index("ix_sent_copies_mailbox", "sent_copies", ["mailbox", "next_try_at"])


def downgrade() -> None:
    op.drop_index("ix_sent_copies_mailbox", table_name="sent_copies")
    op.drop_table("sent_copies")

"""trust state of inbound verdicts, the complainant and the refs trust is decided on

Revision ID: 0010_inbound_trust
Revises: 0009_pipeline

A bounce or complaint acts on a prospect only when it carries the Message-ID of a touch we
sent to them; the evidence (returned/thread refs) and the decision (``trust``: trusted,
untrusted, confirmed, rejected) are kept on the row so a person can review it later.
Existing rows keep ``trust`` NULL (decided before trust existed).
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_inbound_trust"
down_revision = "0009_pipeline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_messages") as batch:
        batch.add_column(sa.Column("complainant", sa.String(length=320), nullable=True))
        batch.add_column(sa.Column("returned_refs", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("thread_refs", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("trust", sa.String(length=20), nullable=True))
    op.create_index("ix_inbound_trust", "inbound_messages", ["trust"])


def downgrade() -> None:
    op.drop_index("ix_inbound_trust", table_name="inbound_messages")
    with op.batch_alter_table("inbound_messages") as batch:
        batch.drop_column("trust")
        batch.drop_column("thread_refs")
        batch.drop_column("returned_refs")
        batch.drop_column("complainant")

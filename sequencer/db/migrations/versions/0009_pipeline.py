"""deal stages on prospects

Revision ID: 0009_pipeline
Revises: 0007_send_safety

Every existing prospect starts in ``new`` since its creation; the first event that
moves it (a touch, a reply, a proposal task, or a hand move) starts the clock again.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_pipeline"
down_revision = "0007_send_safety"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("prospects") as batch:
        batch.add_column(sa.Column("stage", sa.String(length=20), nullable=False, server_default="new"))
        batch.add_column(sa.Column("stage_since", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE prospects SET stage_since = created_at")
    op.create_index("ix_prospects_stage", "prospects", ["stage", "stage_since", "owner"])


def downgrade() -> None:
    op.drop_index("ix_prospects_stage", table_name="prospects")
    with op.batch_alter_table("prospects") as batch:
        batch.drop_column("stage_since")
        batch.drop_column("stage")

"""one open enrollment per prospect and sequence

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OPEN = sa.text("status IN ('active', 'paused')")


def upgrade() -> None:
    op.create_index(
        "uq_enrollments_open",
        "enrollments",
        ["prospect_id", "sequence_id"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("uq_enrollments_open", table_name="enrollments")

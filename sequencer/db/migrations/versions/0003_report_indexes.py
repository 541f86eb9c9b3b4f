"""manager report: covering and partial indexes for the report's named queries

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _where(clause: str) -> dict:
    return {"sqlite_where": sa.text(clause), "postgresql_where": sa.text(clause)}


def upgrade() -> None:
    op.create_index(
        "ix_enrollments_report", "enrollments",
        ["sequence_id", "owner", "status", "steps_done", "replied_step", "replied_at"],
    )
    op.create_index(
        "ix_enrollments_replied", "enrollments",
        ["replied_at", "answered_at", "status", "sequence_id", "owner", "last_touch_at", "enrolled_at", "replied_step"],
        **_where("replied_at IS NOT NULL"),
    )
    op.create_index(
        "ix_enrollments_active", "enrollments",
        ["status", "next_send_at", "last_touch_at", "enrolled_at", "sequence_id", "owner"],
        **_where("status = 'active'"),
    )
    op.create_index(
        "ix_enrollments_unexplained", "enrollments", ["status"],
        **_where("status_reason IS NULL OR status_reason = ''"),
    )
    op.create_index(
        "ix_messages_variant", "messages", ["variant", "step", "status", "enrollment_id"],
        **_where("variant IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_variant", table_name="messages")
    op.drop_index("ix_enrollments_unexplained", table_name="enrollments")
    op.drop_index("ix_enrollments_active", table_name="enrollments")
    op.drop_index("ix_enrollments_replied", table_name="enrollments")
    op.drop_index("ix_enrollments_report", table_name="enrollments")

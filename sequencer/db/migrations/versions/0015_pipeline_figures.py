"""indexes for the pipeline figures: cohorts (report --since) and stage sums

Revision ID: 0015_pipeline_figures
Revises: 0013_users

``ix_enrollments_cohort`` covers the report's status counts for a cohort
(``enrolled_at >= since``): a range scan instead of a table lookup per enrollment, so
``report --since`` is no slower than the unfiltered report. ``ix_prospects_stage_value``
covers the deal pipeline's count and value per stage (and per rep); ``ix_messages_sent``
makes the Reps page's touches sent in a period a range scan.
"""

from alembic import op

revision = "0015_pipeline_figures"
down_revision = "0013_users"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_enrollments_cohort", "enrollments",
        ["enrolled_at", "sequence_id", "owner", "status", "steps_done", "replied_step", "replied_at", "prospect_id"],
    )
    op.create_index("ix_prospects_stage_value", "prospects", ["stage", "owner", "deal_value"])
    op.create_index("ix_messages_sent", "messages", ["sent_at", "status", "enrollment_id"])


def downgrade() -> None:
    op.drop_index("ix_messages_sent", table_name="messages")
    op.drop_index("ix_prospects_stage_value", table_name="prospects")
    op.drop_index("ix_enrollments_cohort", table_name="enrollments")

"""reply intent: what a human reply asked for, when to come back, who referred whom

Revision ID: 0019_reply_intent
Revises: 0018_sent_copies

``enrollments.intent`` (interested, meeting, not_now, referral, not_interested,
wrong_person, unsubscribe) and ``intent_evidence`` (the rule and the words) are set when a
reply ends the enrollment, or when a rep corrects it; ``reengage_on`` is the day a "not now"
comes back. ``origin_enrollment_id`` links a re-engagement or referral enrollment to the
enrollment whose reply planned it, so a correction can cancel it. ``prospects.referred_by``
is the address of the prospect who named this one. Existing rows keep NULL (no intent read).
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_reply_intent"
down_revision = "0018_sent_copies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("enrollments") as batch:
        batch.add_column(sa.Column("intent", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("intent_evidence", sa.Text(), nullable=True))
        batch.add_column(sa.Column("reengage_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("origin_enrollment_id", sa.Integer(), nullable=True))
    op.create_index("ix_enrollments_origin", "enrollments", ["origin_enrollment_id"])
    with op.batch_alter_table("prospects") as batch:
        batch.add_column(sa.Column("referred_by", sa.String(length=320), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("prospects") as batch:
        batch.drop_column("referred_by")
    op.drop_index("ix_enrollments_origin", table_name="enrollments")
    with op.batch_alter_table("enrollments") as batch:
        batch.drop_column("origin_enrollment_id")
        batch.drop_column("reengage_on")
        batch.drop_column("intent_evidence")
        batch.drop_column("intent")

"""rep workflow: tasks, inbound leads and round-robin state

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 12:30:00
"""

import sqlalchemy as sa
from alembic import op


revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enrollment_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("done_by", sa.String(length=100), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["enrollment_id"], ["enrollments.id"], name="fk_tasks_enrollment_id_enrollments"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_tasks"),
        sa.UniqueConstraint("enrollment_id", "step", name="uq_tasks_enrollment_step"),
    )
    op.create_index("ix_tasks_open", "tasks", ["status", "due_at", "owner"])
    op.create_table(
        "inbound_leads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inbound_id", sa.Integer(), nullable=False),
        sa.Column("mailbox", sa.String(length=100), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_addr", sa.String(length=320), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("prospect_id", sa.Integer(), nullable=True),
        sa.Column("enrollment_id", sa.Integer(), nullable=True),
        sa.Column("owner", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["inbound_id"], ["inbound_messages.id"],
            name="fk_inbound_leads_inbound_id_inbound_messages",
        ),
        sa.ForeignKeyConstraint(
            ["prospect_id"], ["prospects.id"], name="fk_inbound_leads_prospect_id_prospects"
        ),
        sa.ForeignKeyConstraint(
            ["enrollment_id"], ["enrollments.id"], name="fk_inbound_leads_enrollment_id_enrollments"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_inbound_leads"),
        sa.UniqueConstraint("inbound_id", name="uq_inbound_leads_inbound_id"),
    )
    op.create_index("ix_inbound_leads_received", "inbound_leads", ["received_at"])
    op.create_table(
        "round_robin",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_round_robin"),
    )


def downgrade() -> None:
    op.drop_table("round_robin")
    op.drop_index("ix_inbound_leads_received", table_name="inbound_leads")
    op.drop_table("inbound_leads")
    op.drop_index("ix_tasks_open", table_name="tasks")
    op.drop_table("tasks")

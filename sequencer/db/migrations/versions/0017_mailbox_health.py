"""mailbox health: the SMTP settings a pause was decided under

Revision ID: 0017_mailbox_health
Revises: 0015_pipeline_figures

``mailbox_state.paused_config`` is a short fingerprint of the mailbox's SMTP settings
(host, port, security, CA file, login) when it was paused for a fault: when the
operator fixes the config, the next tick sees a different fingerprint and tries the
mailbox at once instead of waiting out the back-off.
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_mailbox_health"
down_revision = "0015_pipeline_figures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mailbox_state") as batch:
        batch.add_column(sa.Column("paused_config", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mailbox_state") as batch:
        batch.drop_column("paused_config")

"""Defaults recorded by a user withdrawn as recorded in error (CLI-5, CON-2): one row per
record at most (``liangrong.store.recorded_defaults``), append-only.

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

from liangrong.store.migrations.append_only import protect, unprotect

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

TABLE = "default_withdrawals"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("record_id", sa.String(96), primary_key=True),
        sa.Column("withdrawn_on", sa.Date, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("withdrawn_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"], ["default_records.record_id"], name="fk_default_withdrawals_record"
        ),
    )
    protect(TABLE)


def downgrade() -> None:
    unprotect(TABLE)
    op.drop_table(TABLE)

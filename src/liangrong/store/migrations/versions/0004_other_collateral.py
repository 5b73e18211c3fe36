"""Other collateral (RISK-9) as append-only events: registrations, revaluations, releases,
each with who approved it and when.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from liangrong.store.migrations.append_only import protect, unprotect

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLE = "other_collateral_events"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("collateral_id", sa.String(64), nullable=False, index=True),
        sa.Column("client_id", sa.String(32), nullable=False, index=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(24), nullable=True),  # registration only
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("declared_value_fen", sa.BigInteger, nullable=True),  # NULL: a release
        sa.Column("haircut_bp", sa.Integer, nullable=True),
        sa.Column("approver", sa.String(64), nullable=False),
        sa.Column("approved_on", sa.Date, nullable=False),
        sa.Column("effective", sa.Date, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("recorded_seq", sa.Integer, nullable=False, unique=True),
        sa.Column("recorded_at", sa.String(32), nullable=False),
    )
    protect(TABLE)


def downgrade() -> None:
    unprotect(TABLE)
    op.drop_table(TABLE)

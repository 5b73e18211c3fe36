"""Index closes recorded in the store, published or simulated: the levels INDEX_MOVED fair
values read for days the shipped history does not cover (append-only).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

from liangrong.store.migrations.append_only import protect, unprotect

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "index_closes",
        sa.Column("index_name", sa.String(16), primary_key=True),
        sa.Column("trading_date", sa.Date, primary_key=True),
        sa.Column("level", sa.String(40), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
    )
    protect("index_closes")


def downgrade() -> None:
    unprotect("index_closes")
    op.drop_table("index_closes")

"""Emergency drills and their results (GOV-6), append-only (``liangrong.store.drill_records``).

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

from liangrong.store.migrations.append_only import protect, unprotect

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drill_records",
        sa.Column("drill_id", sa.String(96), primary_key=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("started_at", sa.String(32), nullable=False),
        sa.Column("finished_at", sa.String(32), nullable=False),
        sa.Column("performed_by", sa.String(64), nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("figures_json", sa.Text, nullable=False),
    )
    protect("drill_records")


def downgrade() -> None:
    unprotect("drill_records")
    op.drop_table("drill_records")

"""Collections of charges on the firm's schedule (CON-6): the dated collection policy
(``liangrong.store.collections``), append-only.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

from liangrong.store.migrations.append_only import protect, unprotect

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TABLES = ("collection_policies",)


def upgrade() -> None:
    op.create_table(
        "collection_policies",
        sa.Column("version_id", sa.String(64), primary_key=True),
        sa.Column("effective", sa.Date, nullable=False),
        sa.Column("payload_json", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.UniqueConstraint("effective", name="uq_collection_policies_effective"),
    )
    for table in TABLES:
        protect(table)


def downgrade() -> None:
    for table in TABLES:
        unprotect(table)
        op.drop_table(table)

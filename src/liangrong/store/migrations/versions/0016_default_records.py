"""Defaults recorded by a user (CLI-5): bad credit, other defaults and overdue charges, each
with whether the firm judges it malicious, and their cures
(``liangrong.store.recorded_defaults``), both append-only.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

from liangrong.store.migrations.append_only import protect, unprotect

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

TABLES = ("default_records", "default_cures")


def upgrade() -> None:
    op.create_table(
        "default_records",
        sa.Column("record_id", sa.String(96), primary_key=True),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("occurred_on", sa.Date, nullable=False),
        sa.Column("amount_owed_fen", sa.BigInteger, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("malicious", sa.Boolean, nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_default_records_client", "default_records", ["client_id", "occurred_on"])
    op.create_table(
        "default_cures",
        sa.Column("record_id", sa.String(96), primary_key=True),
        sa.Column("cured_on", sa.Date, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("cured_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"], ["default_records.record_id"], name="fk_default_cures_record"
        ),
    )
    for table in TABLES:
        protect(table)


def downgrade() -> None:
    for table in reversed(TABLES):
        unprotect(table)
        op.drop_table(table)

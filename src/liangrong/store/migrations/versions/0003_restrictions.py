"""Dated restrictions as append-only events: persons' roles, restricted shares, exchange halts.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from liangrong.store.migrations.append_only import protect, unprotect

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("person_events", "share_events", "halt_events")


def upgrade() -> None:
    op.create_table(
        "person_events",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(32), nullable=False, index=True),
        sa.Column("symbol", sa.String(16), nullable=False),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("imposed", sa.Boolean, nullable=False),
        sa.Column("effective", sa.Date, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("recorded_seq", sa.Integer, nullable=False, unique=True),
        sa.Column("recorded_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "share_events",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(32), nullable=False, index=True),
        sa.Column("symbol", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("effective", sa.Date, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("recorded_seq", sa.Integer, nullable=False, unique=True),
        sa.Column("recorded_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "halt_events",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("symbol", sa.String(16), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("halted", sa.Boolean, nullable=False),
        sa.Column("effective", sa.Date, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("recorded_seq", sa.Integer, nullable=False, unique=True),
        sa.Column("recorded_at", sa.String(32), nullable=False),
    )
    for table in TABLES:
        protect(table)


def downgrade() -> None:
    for table in TABLES:
        unprotect(table)
        op.drop_table(table)

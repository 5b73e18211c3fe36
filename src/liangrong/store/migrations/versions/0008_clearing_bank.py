"""The clearing side's and the bank side's records (ACC-7): each day's file as received, all
append-only.

``received_files`` has one row per trading date and side (``clearing`` or ``bank``), written
in the same transaction as the file's lines, so a file is either wholly recorded or absent;
``clearing_positions`` holds the depository's positions at the close, ``bank_balances`` each
client's credit fund account at the bank.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from liangrong.store.migrations.append_only import protect, unprotect

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

APPEND_ONLY = ("received_files", "clearing_positions", "bank_balances")


def upgrade() -> None:
    op.create_table(
        "received_files",
        sa.Column("trading_date", sa.Date, primary_key=True),
        sa.Column("side", sa.String(16), primary_key=True),
        sa.Column("lines", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("received_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "clearing_positions",
        sa.Column("trading_date", sa.Date, primary_key=True),
        sa.Column("account", sa.String(128), primary_key=True),
        sa.Column("symbol", sa.String(16), primary_key=True),
        sa.Column("quantity", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "bank_balances",
        sa.Column("trading_date", sa.Date, primary_key=True),
        sa.Column("client_id", sa.String(32), primary_key=True),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
    )
    for table in APPEND_ONLY:
        protect(table)


def downgrade() -> None:
    for table in APPEND_ONLY:
        unprotect(table)
    for table in reversed(APPEND_ONLY):
        op.drop_table(table)

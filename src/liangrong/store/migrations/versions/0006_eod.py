"""The end of day's records: completed steps, closing prices, contract events (notices,
overdue, extensions, term changes), extension requests, security term events (suspension,
resumption, last trading day), all append-only; and the accrual state, a working table.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from liangrong.store.migrations.append_only import protect, unprotect

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

APPEND_ONLY = (
    "eod_steps",
    "closing_prices",
    "contract_events",
    "extension_requests",
    "security_term_events",
)


def upgrade() -> None:
    op.create_table(
        "eod_steps",
        sa.Column("trading_date", sa.Date, primary_key=True),
        sa.Column("step", sa.String(32), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("completed_at", sa.String(32), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("summary_json", sa.Text, nullable=False),
    )
    op.create_table(
        "closing_prices",
        sa.Column("symbol", sa.String(16), primary_key=True),
        sa.Column("trading_date", sa.Date, primary_key=True),
        sa.Column("price_li", sa.BigInteger, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
    )
    op.create_table(
        "eod_accruals",
        sa.Column("trading_date", sa.Date, primary_key=True),
        sa.Column("contract_id", sa.String(48), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("booked_fen", sa.BigInteger, nullable=False),
        sa.Column("residue", sa.BigInteger, nullable=False),
        sa.Column("unit", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "contract_events",
        sa.Column("event_id", sa.String(128), primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False, unique=True),
        sa.Column("contract_id", sa.String(48), nullable=False, index=True),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("trading_date", sa.Date, nullable=False, index=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("maturity", sa.Date, nullable=True),
        sa.Column("payload_json", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "extension_requests",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("contract_id", sa.String(48), nullable=False, index=True),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("requested_on", sa.Date, nullable=False, index=True),
        sa.Column("new_maturity", sa.Date, nullable=True),
        sa.Column("agreement_end", sa.Date, nullable=False),
        sa.Column("committee_approval", sa.Text, nullable=True),
        sa.Column("recorded_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "security_term_events",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("symbol", sa.String(16), nullable=False, index=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("on_date", sa.Date, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
    )
    for table in APPEND_ONLY:
        protect(table)


def downgrade() -> None:
    for table in APPEND_ONLY:
        unprotect(table)
    for table in (*APPEND_ONLY, "eod_accruals"):
        op.drop_table(table)

"""The stored stress-test runs (RISK-12): the firm's dated scenario sets, and each
scenario's result of each end of day, both append-only.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from liangrong.store.migrations.append_only import protect, unprotect

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

APPEND_ONLY = ("stress_scenario_sets", "stress_runs")


def upgrade() -> None:
    op.create_table(
        "stress_scenario_sets",
        sa.Column("version_id", sa.String(64), primary_key=True),
        sa.Column("effective", sa.Date, nullable=False),
        sa.Column("scenarios_json", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "stress_runs",
        sa.Column("trading_date", sa.Date, primary_key=True),
        sa.Column("scenario", sa.String(128), primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("set_version", sa.String(64), nullable=True),
        sa.Column("prices", sa.String(64), nullable=False),
        sa.Column("accounts", sa.BigInteger, nullable=False),
        sa.Column("no_debt", sa.BigInteger, nullable=False),
        sa.Column("below_attention", sa.BigInteger, nullable=False),
        sa.Column("below_attention_debt_li", sa.BigInteger, nullable=False),
        sa.Column("below_warning", sa.BigInteger, nullable=False),
        sa.Column("below_warning_debt_li", sa.BigInteger, nullable=False),
        sa.Column("below_liquidation", sa.BigInteger, nullable=False),
        sa.Column("below_liquidation_debt_li", sa.BigInteger, nullable=False),
        sa.Column("below_emergency", sa.BigInteger, nullable=False),
        sa.Column("below_emergency_debt_li", sa.BigInteger, nullable=False),
        sa.Column("shortfall_accounts", sa.BigInteger, nullable=False),
        sa.Column("shortfall_li", sa.BigInteger, nullable=False),
        sa.Column("liquidated_accounts", sa.BigInteger, nullable=False),
        sa.Column("sale_value_li", sa.BigInteger, nullable=False),
        sa.Column("cover_value_li", sa.BigInteger, nullable=False),
        sa.Column("detail_json", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
    )
    for table in APPEND_ONLY:
        protect(table)


def downgrade() -> None:
    for table in APPEND_ONLY:
        unprotect(table)
        op.drop_table(table)

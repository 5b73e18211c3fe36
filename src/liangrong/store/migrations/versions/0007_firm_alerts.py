"""The firm-level limits (RISK-11): their dated inputs (net capital, the firm-limit rule) and
the alerts of each evaluation, both append-only (``liangrong.store.firm_alerts``).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from liangrong.store.migrations.append_only import protect, unprotect

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLES = ("firm_limit_versions", "firm_alerts")


def upgrade() -> None:
    op.create_table(
        "firm_limit_versions",
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("version_id", sa.String(64), primary_key=True),
        sa.Column("effective", sa.Date, nullable=False),
        sa.Column("payload_json", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.UniqueConstraint("kind", "effective", name="uq_firm_limit_versions_effective"),
    )
    op.create_table(
        "firm_alerts",
        sa.Column("trading_date", sa.Date, primary_key=True),
        sa.Column("indicator", sa.String(48), primary_key=True),
        sa.Column("subject", sa.String(32), primary_key=True),
        sa.Column("level", sa.String(16), primary_key=True),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("value", sa.BigInteger, nullable=False),
        sa.Column("limit_value", sa.String(64), nullable=False),
        sa.Column("blocks", sa.String(64), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("capital_version", sa.String(64), nullable=False),
        sa.Column("rule_version", sa.String(64), nullable=False),
    )
    for table in TABLES:
        protect(table)


def downgrade() -> None:
    for table in TABLES:
        unprotect(table)
        op.drop_table(table)

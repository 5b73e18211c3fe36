"""Contract events indexed by kind and date: the end of day and the book read the few kinds
that change a term or open an overdue trigger, while expiry notices (one per contract and
maturity) make up most of the table and grow with every day kept.

Revision ID: 0021
Revises: 0020
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

INDEX = "ix_contract_events_kind_date"


def upgrade() -> None:
    op.create_index(INDEX, "contract_events", ["kind", "trading_date"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="contract_events")

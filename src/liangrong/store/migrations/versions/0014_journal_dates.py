"""The journal's transactions indexed by business date: the end of day reads one day's
transactions (settlement, principal moves, the report, the reconciliation's "at the close")
by their date, which without it is a scan of the whole journal.

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

INDEX = "ix_journal_transactions_business_date"


def upgrade() -> None:
    op.create_index(INDEX, "journal_transactions", ["business_date"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="journal_transactions")

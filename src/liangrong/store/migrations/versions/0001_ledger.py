"""The ledger: credit accounts, the append-only journal, balances and contracts.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from liangrong.store.migrations.append_only import protect, unprotect

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "credit_accounts",
        sa.Column("client_id", sa.String(32), primary_key=True),
        sa.Column("exchange", sa.String(2), primary_key=True),
        sa.Column("holder_name", sa.String(200), nullable=False),
        sa.Column("command_id", sa.String(128), nullable=False, unique=True),
        sa.Column("opened_on", sa.Date, nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "journal_transactions",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=False),
        sa.Column("command_id", sa.String(128), nullable=False, unique=True),
        sa.Column("payload_digest", sa.String(64), nullable=False),
        sa.Column("business_date", sa.Date, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("events_json", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "journal_postings",
        sa.Column("txn_seq", SEQ, primary_key=True),
        sa.Column("line_no", sa.Integer, primary_key=True),
        sa.Column("leg_no", sa.Integer, nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("account", sa.String(128), nullable=False),
        sa.Column("asset", sa.String(16), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,  # clustered on the key: appends touch one B-tree, not two
    )
    op.create_index("ix_journal_postings_account", "journal_postings", ["account"])
    op.create_table(
        "balances",
        sa.Column("account", sa.String(128), primary_key=True),
        sa.Column("asset", sa.String(16), primary_key=True),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "contracts",
        sa.Column("contract_id", sa.String(48), primary_key=True),
        sa.Column("client_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("security", sa.String(16), nullable=False),
        sa.Column("opened_seq", sa.BigInteger, nullable=False),
        sa.Column("terms_json", sa.Text, nullable=False),
    )
    op.create_index("ix_contracts_client_id", "contracts", ["client_id"])
    for table in ("journal_transactions", "journal_postings", "credit_accounts"):
        protect(table)


def downgrade() -> None:
    for table in ("journal_transactions", "journal_postings", "credit_accounts"):
        unprotect(table)
    for table in (
        "contracts",
        "balances",
        "journal_postings",
        "journal_transactions",
        "credit_accounts",
    ):
        op.drop_table(table)

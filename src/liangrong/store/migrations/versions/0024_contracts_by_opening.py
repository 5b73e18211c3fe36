"""Contracts indexed by the journal seq that opened them: the resident book catches its
contract table up with the contracts opened after its mark (``ledger.resident``), a few
rows of millions, every time the end of day reads it.

Revision ID: 0024
Revises: 0023
"""

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

INDEX = "ix_contracts_opened_seq"


def upgrade() -> None:
    op.create_index(INDEX, "contracts", ["opened_seq"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="contracts")

"""The firm's charge posting (``daily`` or ``subledger``) as a dated firm parameter
(``liangrong.store.charge_posting``), append-only.

Revision ID: 0023
Revises: 0022
"""

from liangrong.store.migrations.append_only import create_dated_table, drop_protected

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

TABLE = "charge_posting_policies"


def upgrade() -> None:
    create_dated_table(TABLE)


def downgrade() -> None:
    drop_protected(TABLE)

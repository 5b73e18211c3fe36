"""Collections of charges on the firm's schedule (CON-6): the dated collection policy
(``liangrong.store.collections``), append-only.

Revision ID: 0013
Revises: 0012
"""

from liangrong.store.migrations.append_only import create_dated_table, drop_protected

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TABLE = "collection_policies"


def upgrade() -> None:
    create_dated_table(TABLE)


def downgrade() -> None:
    drop_protected(TABLE)

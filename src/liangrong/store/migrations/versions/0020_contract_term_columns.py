"""The contracts projection copies the opening terms that the whole-book readers take into
columns of their own (``ledger.schema.CONTRACT_TERM_COLUMNS``), so millions of contracts are
read without parsing their terms' JSON.  The upgrade fills them from each row's
``terms_json`` in the store itself; the downgrade drops them.

The columns are written out here, not imported: a migration stays what it was when the store
took it.

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# name, type, the SQL type it is read as from the JSON on PostgreSQL
_COLUMNS = (
    ("quantity", sa.BigInteger(), "bigint"),
    ("amount_fen", sa.BigInteger(), "bigint"),
    ("price_li", sa.BigInteger(), "bigint"),
    ("margin_ratio", sa.Text(), "text"),
    ("annual_rate", sa.Text(), "text"),
    ("open_date", sa.String(10), "text"),
    ("used_date", sa.String(10), "text"),
    ("maturity", sa.String(10), "text"),
)


def _filled(name: str, dialect: str, cast: str) -> str:
    if dialect == "postgresql":
        return f"{name} = CAST(CAST(terms_json AS json) ->> '{name}' AS {cast})"
    return f"{name} = json_extract(terms_json, '$.{name}')"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for name, kind, _ in _COLUMNS:
        op.add_column("contracts", sa.Column(name, kind, nullable=True))
    assignments = ", ".join(_filled(name, dialect, cast) for name, _, cast in _COLUMNS)
    op.execute(f"UPDATE contracts SET {assignments}")
    # A row whose JSON lacks a field stops the upgrade here: NOT NULL refuses it.
    with op.batch_alter_table("contracts") as batch:
        for name, kind, _ in _COLUMNS:
            batch.alter_column(name, existing_type=kind, nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("contracts") as batch:
        for name, _, _ in reversed(_COLUMNS):
            batch.drop_column(name)

"""Reference data: securities master, reference prices, calendar loads, rule versions, lists.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from liangrong.store.migrations.append_only import protect, unprotect

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Written out here rather than imported from liangrong.store.schema: a migration is frozen
# history and must keep creating the same tables when the schema module moves on.
APPEND_ONLY = (
    "rule_versions",
    "list_publications",
    "list_entries",
    "calendar_loads",
    "calendar_sessions",
)


def upgrade() -> None:
    op.create_table(
        "securities",
        sa.Column("symbol", sa.String(16), primary_key=True),
        sa.Column("code", sa.String(6), nullable=False),
        sa.Column("exchange", sa.String(2), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("board", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("total_shares", sa.BigInteger, nullable=False),
        sa.Column("float_shares", sa.BigInteger, nullable=False),
        sa.Column("listing_date", sa.Date, nullable=False),
        sa.Column("registration_ipo", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("large_cap_constituent", sa.Boolean, nullable=False),
        sa.Column("generated", sa.Text, nullable=False),
    )
    op.create_table(
        "reference_prices",
        sa.Column("symbol", sa.String(16), sa.ForeignKey("securities.symbol"), primary_key=True),
        sa.Column("trading_date", sa.Date, primary_key=True),
        sa.Column("price_li", sa.BigInteger, nullable=False),
        sa.Column("generated", sa.Boolean, nullable=False),
    )
    op.create_table(
        "calendar_loads",
        sa.Column("load_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("horizon_start", sa.Date, nullable=False),
        sa.Column("horizon_end", sa.Date, nullable=False),
        sa.Column("session_count", sa.Integer, nullable=False),
        sa.Column("sessions_digest", sa.String(64), nullable=False),
        sa.Column("loaded_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "calendar_sessions",
        sa.Column("load_id", sa.Integer, sa.ForeignKey("calendar_loads.load_id"), primary_key=True),
        sa.Column("session_date", sa.Date, primary_key=True),
    )
    op.create_table(
        "rule_versions",
        sa.Column("layer", sa.String(16), primary_key=True),
        sa.Column("subject", sa.String(32), primary_key=True),
        sa.Column("version_id", sa.String(64), primary_key=True),
        sa.Column("effective", sa.Date, nullable=False),
        sa.Column("payload_json", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.UniqueConstraint("layer", "subject", "effective", name="uq_rule_versions_effective"),
    )
    op.create_table(
        "list_publications",
        sa.Column("layer", sa.String(16), primary_key=True),
        sa.Column("trading_date", sa.Date, primary_key=True),
        sa.Column("entry_count", sa.Integer, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("published_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "list_entries",
        sa.Column("layer", sa.String(16), primary_key=True),
        sa.Column("trading_date", sa.Date, primary_key=True),
        sa.Column("symbol", sa.String(16), sa.ForeignKey("securities.symbol"), primary_key=True),
        sa.Column("financing_target", sa.Boolean, nullable=False),
        sa.Column("short_target", sa.Boolean, nullable=False),
        sa.Column("haircut", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(
            ["layer", "trading_date"],
            ["list_publications.layer", "list_publications.trading_date"],
            name="fk_list_entries_publication",
        ),
    )
    for table in APPEND_ONLY:
        protect(table)


def downgrade() -> None:
    for table in APPEND_ONLY:
        unprotect(table)
    for table in (
        "list_entries",
        "list_publications",
        "rule_versions",
        "calendar_sessions",
        "calendar_loads",
        "reference_prices",
        "securities",
    ):
        op.drop_table(table)

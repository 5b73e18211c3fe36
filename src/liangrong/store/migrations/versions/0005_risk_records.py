"""The risk desk's records: status changes, margin-call events, the notice outbox,
liquidation runs and recovery cases, all append-only.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from liangrong.store.migrations.append_only import protect, unprotect

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("status_events", "call_events", "notices", "liquidation_runs", "recovery_cases")


def _ratio(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.String(48), nullable=True)  # exact text; NULL: no debt


def upgrade() -> None:
    op.create_table(
        "status_events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.String(32), nullable=False, index=True),
        sa.Column("old", sa.String(16), nullable=False),
        sa.Column("new", sa.String(16), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        _ratio("ratio"),
        sa.Column("lines", sa.String(128), nullable=False),
        sa.Column("prices_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "call_events",
        sa.Column("event_id", sa.String(96), primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False, unique=True),
        sa.Column("client_id", sa.String(32), nullable=False, index=True),
        sa.Column("call_id", sa.String(64), nullable=True),
        sa.Column("evaluated_on", sa.Date, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("account_status", sa.String(16), nullable=False),
        _ratio("ratio"),
        sa.Column("branch", sa.String(32), nullable=False),
        sa.Column("opened_on", sa.Date, nullable=True),
        _ratio("ratio_at_open"),
        _ratio("line"),
        _ratio("target"),
        sa.Column("deadline", sa.Date, nullable=True),
        sa.Column("deadline_provisional", sa.Boolean, nullable=False),
        sa.Column("liquidation_reason", sa.String(32), nullable=True),
        sa.Column("liquidation_from", sa.Date, nullable=True),
    )
    op.create_table(
        "notices",
        sa.Column("notice_id", sa.String(128), primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False, unique=True),
        sa.Column("client_id", sa.String(32), nullable=False, index=True),
        sa.Column("branch", sa.String(32), nullable=False),
        sa.Column("inform_branch", sa.Boolean, nullable=False),
        sa.Column("channels", sa.String(64), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        _ratio("ratio"),
        _ratio("line"),
        _ratio("target"),
        sa.Column("deadline", sa.Date, nullable=True),
        sa.Column("deadline_provisional", sa.Boolean, nullable=False),
        sa.Column("liquidation_from", sa.Date, nullable=True),
        sa.Column("top_up_fen", sa.BigInteger, nullable=True),
        sa.Column("repay_fen", sa.BigInteger, nullable=True),
        sa.Column("text_zh", sa.Text, nullable=False),
        sa.Column("text_en", sa.Text, nullable=False),
    )
    op.create_table(
        "liquidation_runs",
        sa.Column("run_id", sa.String(96), primary_key=True),
        sa.Column("client_id", sa.String(32), nullable=False, index=True),
        sa.Column("trading_date", sa.Date, nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("mode", sa.String(32), nullable=False),
        _ratio("ratio_before"),
        _ratio("ratio_planned"),
        sa.Column("reached", sa.Boolean, nullable=False),
        sa.Column("plan_json", sa.Text, nullable=False),
        sa.Column("orders_json", sa.Text, nullable=False),
    )
    op.create_table(
        "recovery_cases",
        sa.Column("case_id", sa.String(96), primary_key=True),
        sa.Column("client_id", sa.String(32), nullable=False, index=True),
        sa.Column("opened_on", sa.Date, nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("shortfall_fen", sa.BigInteger, nullable=False),
        _ratio("debt_fen"),
        _ratio("assets_fen"),
        sa.Column("positions_left", sa.Boolean, nullable=False),
        sa.Column("run_id", sa.String(96), nullable=False),
    )
    for table in TABLES:
        protect(table)


def downgrade() -> None:
    for table in TABLES:
        unprotect(table)
        op.drop_table(table)

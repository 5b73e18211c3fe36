"""Tables of the risk desk's records (migration ``0005_risk_records``), append-only.

Ratios are exact text (``rule_codec.exact_text``; NULL: no debt); times are ISO text, as
the ledger's.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Date, Integer, String, Table, Text

from liangrong.ledger.schema import metadata


def _ratio(name: str) -> Column[str]:
    return Column(name, String(48), nullable=True)


status_events = Table(
    "status_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False, index=True),
    Column("old", String(16), nullable=False),
    Column("new", String(16), nullable=False),
    Column("at", String(32), nullable=False),
    _ratio("ratio"),
    Column("lines", String(128), nullable=False),
    Column("prices_at", String(32), nullable=False),
)

call_events = Table(
    "call_events",
    metadata,
    Column("event_id", String(96), primary_key=True),
    Column("seq", Integer, nullable=False, unique=True),
    Column("client_id", String(32), nullable=False, index=True),
    Column("call_id", String(64), nullable=True),
    Column("evaluated_on", Date, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("at", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("account_status", String(16), nullable=False),
    _ratio("ratio"),
    Column("branch", String(32), nullable=False),
    Column("opened_on", Date, nullable=True),
    _ratio("ratio_at_open"),
    _ratio("line"),
    _ratio("target"),
    Column("deadline", Date, nullable=True),
    Column("deadline_provisional", Boolean, nullable=False),
    Column("liquidation_reason", String(32), nullable=True),
    Column("liquidation_from", Date, nullable=True),
)

notices = Table(
    "notices",
    metadata,
    Column("notice_id", String(128), primary_key=True),
    Column("seq", Integer, nullable=False, unique=True),
    Column("client_id", String(32), nullable=False, index=True),
    Column("branch", String(32), nullable=False),
    Column("inform_branch", Boolean, nullable=False),
    Column("channels", String(64), nullable=False),
    Column("at", String(32), nullable=False),
    Column("kind", String(24), nullable=False),
    _ratio("ratio"),
    _ratio("line"),
    _ratio("target"),
    Column("deadline", Date, nullable=True),
    Column("deadline_provisional", Boolean, nullable=False),
    Column("liquidation_from", Date, nullable=True),
    Column("top_up_fen", BigInteger, nullable=True),
    Column("repay_fen", BigInteger, nullable=True),
    Column("text_zh", Text, nullable=False),
    Column("text_en", Text, nullable=False),
)

liquidation_runs = Table(
    "liquidation_runs",
    metadata,
    Column("run_id", String(96), primary_key=True),
    Column("client_id", String(32), nullable=False, index=True),
    Column("trading_date", Date, nullable=False),
    Column("at", String(32), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("mode", String(32), nullable=False),
    _ratio("ratio_before"),
    _ratio("ratio_planned"),
    Column("reached", Boolean, nullable=False),
    Column("plan_json", Text, nullable=False),
    Column("orders_json", Text, nullable=False),
)

recovery_cases = Table(
    "recovery_cases",
    metadata,
    Column("case_id", String(96), primary_key=True),
    Column("client_id", String(32), nullable=False, index=True),
    Column("opened_on", Date, nullable=False),
    Column("at", String(32), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("shortfall_fen", BigInteger, nullable=False),
    _ratio("debt_fen"),
    _ratio("assets_fen"),
    Column("positions_left", Boolean, nullable=False),
    Column("run_id", String(96), nullable=False),
)

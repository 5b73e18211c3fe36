"""Tables of the reference data (REF-1, REF-2, REF-4, REF-5), on the ledger's ``metadata`` so
that one ``MetaData`` describes the whole store (the migrations' ``target_metadata``).

Invariants:
- the tables are created by migration ``0002_reference`` only; these definitions mirror it
  (a test compares the two);
- ``rule_versions``, ``list_publications``, ``list_entries``, ``calendar_loads`` and
  ``calendar_sessions`` are append-only: the database refuses UPDATE and DELETE, so a
  recorded parameter, a published list or a loaded calendar is never rewritten (GOV-4);
- ``securities`` is the master's current state, one row per symbol; ``reference_prices``
  holds one price per symbol and trading date;
- no float anywhere: shares and prices (li) are BigInteger, ratios exact text.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from liangrong.ledger.schema import metadata

securities = Table(
    "securities",
    metadata,
    Column("symbol", String(16), primary_key=True),  # "600000.SH"
    Column("code", String(6), nullable=False),
    Column("exchange", String(2), nullable=False),
    Column("name", String(100), nullable=False),
    Column("board", String(16), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("total_shares", BigInteger, nullable=False),
    Column("float_shares", BigInteger, nullable=False),
    Column("listing_date", Date, nullable=False),
    Column("registration_ipo", Boolean, nullable=False),
    Column("status", String(24), nullable=False),
    Column("large_cap_constituent", Boolean, nullable=False),
    Column("generated", Text, nullable=False),  # sorted comma list of generated attributes
)

reference_prices = Table(
    "reference_prices",
    metadata,
    Column("symbol", String(16), ForeignKey("securities.symbol"), primary_key=True),
    Column("trading_date", Date, primary_key=True),
    Column("price_li", BigInteger, nullable=False),
    Column("generated", Boolean, nullable=False),  # True: a demo price, not a market price
)

calendar_loads = Table(
    "calendar_loads",
    metadata,
    # Assigned in order under the write lock: later loads win inside their range.
    Column("load_id", Integer, primary_key=True, autoincrement=False),
    Column("source", Text, nullable=False),
    Column("horizon_start", Date, nullable=False),
    Column("horizon_end", Date, nullable=False),
    Column("session_count", Integer, nullable=False),
    Column("sessions_digest", String(64), nullable=False),
    Column("loaded_at", String(32), nullable=False),
)

calendar_sessions = Table(
    "calendar_sessions",
    metadata,
    Column("load_id", Integer, ForeignKey("calendar_loads.load_id"), primary_key=True),
    Column("session_date", Date, primary_key=True),
)

rule_versions = Table(
    "rule_versions",
    metadata,
    Column("layer", String(16), primary_key=True),  # exchange / firm / client
    Column("subject", String(32), primary_key=True),  # the client id; '' for exchange, firm
    Column("version_id", String(64), primary_key=True),
    Column("effective", Date, nullable=False),
    Column("payload_json", Text, nullable=False),  # canonical, liangrong.domain.rule_codec
    Column("source", Text, nullable=False),  # the audit record: notice, approval, why
    Column("recorded_at", String(32), nullable=False),
    UniqueConstraint("layer", "subject", "effective", name="uq_rule_versions_effective"),
)

list_publications = Table(
    "list_publications",
    metadata,
    Column("layer", String(16), primary_key=True),  # exchange / firm
    Column("trading_date", Date, primary_key=True),
    Column("entry_count", Integer, nullable=False),
    Column("digest", String(64), nullable=False),  # sha256 of the canonical entries
    Column("published_at", String(32), nullable=False),
)

list_entries = Table(
    "list_entries",
    metadata,
    Column("layer", String(16), primary_key=True),
    Column("trading_date", Date, primary_key=True),
    Column("symbol", String(16), ForeignKey("securities.symbol"), primary_key=True),
    Column("financing_target", Boolean, nullable=False),
    Column("short_target", Boolean, nullable=False),
    Column("haircut", String(32), nullable=True),  # exact fraction text; NULL: not collateral
    ForeignKeyConstraint(
        ["layer", "trading_date"],
        ["list_publications.layer", "list_publications.trading_date"],
        name="fk_list_entries_publication",
    ),
)

__all__ = [
    "REFERENCE_APPEND_ONLY_TABLES",
    "calendar_loads",
    "calendar_sessions",
    "list_entries",
    "list_publications",
    "metadata",  # the ledger's, now also holding these tables
    "reference_prices",
    "rule_versions",
    "securities",
]

REFERENCE_APPEND_ONLY_TABLES = (
    "rule_versions",
    "list_publications",
    "list_entries",
    "calendar_loads",
    "calendar_sessions",
)

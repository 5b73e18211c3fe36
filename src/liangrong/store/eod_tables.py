"""Tables of the end of day (migrations ``0006_eod``, ``0019_accrual_states``,
``0021_contract_event_kinds``, ``0022_charges_pending``).

Invariants: every table but ``eod_accrual_states`` is append-only (the database refuses UPDATE
and DELETE): a completed step, a closing price, a contract event, an extension request or a
security's term event is never rewritten.  ``eod_accrual_states`` is the accrual state carried
from one end of day to the next (one snapshot per date, older snapshots pruned; columns as
text, ``store.accrual_state``): derived data, like the ledger's projections.  No float
anywhere: prices in li, amounts in fen, the accrual residue an exact integer numerator over
its ``unit``.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, Index, Integer, String, Table, Text

from liangrong.ledger.schema import metadata

eod_steps = Table(
    "eod_steps",
    metadata,
    Column("trading_date", Date, primary_key=True),
    Column("step", String(32), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("completed_at", String(32), nullable=False),
    Column("digest", String(64), nullable=False),  # sha256 of what the step produced
    Column("summary_json", Text, nullable=False),  # canonical JSON, counts and figures
)

closing_prices = Table(
    "closing_prices",
    metadata,
    Column("symbol", String(16), primary_key=True),
    Column("trading_date", Date, primary_key=True),
    Column("price_li", BigInteger, nullable=False),
    Column("source", String(32), nullable=False),  # "session": the simulated close
)

eod_accrual_states = Table(
    "eod_accrual_states",  # migration 0019: columns as text (``store.accrual_state``)
    metadata,
    Column("trading_date", Date, primary_key=True),  # accrued through this day
    Column("kind", String(16), primary_key=True),  # interest.ChargeKind value
    Column("part", Integer, primary_key=True),  # 0, 1, …: PART_ROWS contracts each
    Column("unit", BigInteger, nullable=False),  # the residues are in 1/unit fen
    Column("size", Integer, nullable=False),  # contracts in the part
    Column("contract_ids", Text, nullable=False),  # newline-separated, in contract order
    Column("booked_fen", Text, nullable=False),  # posted since the period began, decimal
    Column("residue", Text, nullable=False),  # exact − booked, in 1/unit fen, decimal
    # migration 0022: the charges subledger (docs/charges-subledger.md)
    Column("first_contract", String(48), nullable=False),  # the part's first contract id
    Column("journal_seq", BigInteger, nullable=False),  # the position the pending stands at
    Column("pending_fen", Text, nullable=False),  # booked, not posted to the contract, decimal
)

contract_events = Table(
    "contract_events",
    metadata,
    Column("event_id", String(128), primary_key=True),  # deterministic: reruns add nothing
    Column("seq", Integer, nullable=False, unique=True),
    Column("contract_id", String(48), nullable=False, index=True),
    Column("client_id", String(32), nullable=False),
    Column("trading_date", Date, nullable=False, index=True),
    Column("kind", String(24), nullable=False),
    Column("maturity", Date, nullable=True),  # the maturity the event names or sets
    Column("payload_json", Text, nullable=False),
    Column("recorded_at", String(32), nullable=False),
    # readers take a few kinds; expiry notices, most of the rows, grow with every day kept
    Index("ix_contract_events_kind_date", "kind", "trading_date"),
)

extension_requests = Table(
    "extension_requests",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("contract_id", String(48), nullable=False, index=True),
    Column("client_id", String(32), nullable=False),
    Column("requested_on", Date, nullable=False, index=True),
    Column("new_maturity", Date, nullable=True),  # None: the longest allowed
    Column("agreement_end", Date, nullable=False),  # the master agreement's end, as on file
    Column("committee_approval", Text, nullable=True),
    Column("recorded_at", String(32), nullable=False),
)

security_term_events = Table(
    "security_term_events",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("symbol", String(16), nullable=False, index=True),
    Column("kind", String(24), nullable=False),  # suspended / resumed / last_trading_day
    Column("on_date", Date, nullable=False),
    Column("source", Text, nullable=False),
    Column("recorded_at", String(32), nullable=False),
)

EOD_APPEND_ONLY_TABLES = (
    "eod_steps",
    "closing_prices",
    "contract_events",
    "extension_requests",
    "security_term_events",
)

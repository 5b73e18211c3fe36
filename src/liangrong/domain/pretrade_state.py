"""What the front-end checks read: integer state kept current by the book.

Everything here is in the hot path's units: fen, li, shares and ratios in basis points
(``money.RATIO_SCALE``).  Margin is kept in "li × basis points" (``_e4li``) so that
``value_li × ratio_bp`` compares exactly with ``available_margin_li × 10_000`` without any
division.  Invariant: the book mutates these objects only under its single writer; the checks
read them and never write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from liangrong.domain.concentration import ConcentrationClass
from liangrong.domain.firm_limits import FirmRoom
from liangrong.domain.orders import AccountType, OrderKind


class AccountStatus(Enum):
    NORMAL = "normal"
    # Below the liquidation line after settlement: no buys, margin buys or shorts (RISK-6).
    CALL_RESTRICTED = "call_restricted"
    # In forced liquidation: only the firm's forced orders and collateral transfer-in.
    LIQUIDATION = "liquidation"


@dataclass(slots=True)
class PositionState:
    """One security in one credit securities account."""

    quantity: int = 0  # shares held in the credit securities account
    bought_today: int = 0  # not sellable before T+1
    restricted: int = 0  # seized, frozen, third-party rights, reduced-holding restricted shares
    reserved_for_sale: int = 0  # held back by open sell orders and pending returns
    financed_quantity: int = 0  # shares bought on margin whose financing is still open
    short_quantity: int = 0  # shares owed on open shorts of this security
    short_opened_today: int = 0  # of which sold short today: not coverable before T+1
    value_li: int = 0  # quantity × last valuation price
    reserved_for_cover: int = 0  # of the short, held by open buy-to-cover orders and returns

    @property
    def sellable(self) -> int:
        return self.quantity - self.bought_today - self.restricted - self.reserved_for_sale


@dataclass(slots=True)
class CreditLimits:
    """The client's credit limits (授信额度) and what is used or reserved against them."""

    financing_limit_fen: int
    short_limit_fen: int
    total_limit_fen: int
    financing_used_fen: int = 0  # principal outstanding + reserved by open margin buys
    short_used_fen: int = 0  # open shorts at sale value + reserved by open short sells


@dataclass(slots=True)
class AccountState:
    account_id: str
    client_id: str
    account_type: AccountType
    status: AccountStatus
    limits: CreditLimits
    available_margin_li: int  # exchange formula at the last valuation, floored to the li
    valued_at: str  # the price time the margin and values were computed from (ISO)
    cash_free_fen: int  # usable cash: free cash incl. today's sale proceeds, less reservations
    cash_locked_fen: int  # short-sale proceeds, for their permitted uses only (ORD-5)
    collateral_value_li: int  # all securities at the valuation prices (concentration base)
    concentration_limit_bp: int  # one security's share of collateral that stops margin buys
    reserved_margin_e4li: int = 0  # margin held by open orders, in li × basis points
    positions: dict[str, PositionState] = field(default_factory=dict)
    # Client-specific margin ratios by (symbol, kind), overriding the security's firm ratio.
    margin_overrides_bp: dict[tuple[str, OrderKind], int] = field(default_factory=dict)
    insider_symbols: frozenset[str] = frozenset()  # directors, supervisors, managers, 5% holders
    lockup_symbols: frozenset[str] = frozenset()  # strategic placement investors in lock-up
    has_open_financing: bool = False
    # CLI-6: an identity document past its grace, unrenewed; no new financing or shorts.
    new_debt_refused: bool = False
    # The firm's tiered caps at the account's ratio (RISK-10), the client's agreed limit
    # applied, by class; a class not named here takes ``concentration_limit_bp``.
    concentration_caps_bp: dict[ConcentrationClass, int] = field(default_factory=dict)


@dataclass(slots=True)
class SecurityState:
    """One security on one trading day, as the firm's lists and the market say."""

    symbol: str
    lot_minimum: int
    lot_step: int
    tick_li: int
    financing_target: bool
    short_target: bool
    collateral: bool
    haircut_bp: int
    financing_margin_bp: int  # the firm's ratio for this security today (never below the floor)
    short_margin_bp: int
    financing_halted: bool  # exchange halt of margin buys (REF-7)
    short_halted: bool  # exchange halt of short sales
    suspended: bool
    last_price_li: int  # latest trade today, else the previous close
    limit_up_li: int
    limit_down_li: int
    money_market: bool = False  # locked short proceeds may buy it (ORD-5)
    concentration_class: ConcentrationClass | None = None  # which tiered cap applies


@dataclass(slots=True)
class FirmState:
    """The firm's lending pools, less what open orders have reserved, and the room the
    firm-level limits leave (RISK-11).

    ``limits``: the rooms of the desk's last evaluation of the firm's limits less what
    orders accepted since hold (``firm_limits.FirmRoom``); None when no firm limit is
    configured, and then no firm limit refuses anything."""

    financing_pool_available_fen: int
    lending_pool_available: dict[str, int] = field(default_factory=dict)  # symbol -> shares
    limits: FirmRoom | None = None

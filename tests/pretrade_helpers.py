"""Builders of front-end check states: a generous default that accepts everything, changed
per test by keyword so each test says only what it is about."""

from __future__ import annotations

from datetime import date
from typing import Any

from liangrong.domain.fees import FeeSchedule
from liangrong.domain.orders import (
    AccountType,
    BusinessType,
    NonTradeKind,
    NonTradeRequest,
    Order,
    OrderKind,
)
from liangrong.domain.pretrade_state import (
    AccountState,
    AccountStatus,
    CreditLimits,
    FirmState,
    PositionState,
    SecurityState,
)
from liangrong.sim.fee_seed import fee_schedule_on

FEES = fee_schedule_on(date(2026, 3, 2))  # the dated schedule in force: 0.025%, 0.05%, 0.001%
NO_FEES = FeeSchedule(
    commission_ppm=0, commission_minimum_fen=0, stamp_duty_sell_ppm=0, transfer_fee_ppm=0
)

MAIN = "600000.SH"  # main board: 100-share lots, 0.01 CNY tick
STAR = "688001.SH"  # STAR: 200 shares minimum, then 1-share steps
BOND = "019547.SH"  # bonds: 10 张 lots, 0.001 CNY tick
OTHER = "000001.SZ"
LAST = 10_000  # 10.00 CNY, in li
TICK = 10
NO_CONCENTRATION_LIMIT = 1_000_000  # above 10_000 bp: never reached
BIG = 10**12

_LOTS = {MAIN: (100, 100, 10), STAR: (200, 1, 10), BOND: (10, 10, 1), OTHER: (100, 100, 10)}


def security(symbol: str = MAIN, **changes: Any) -> SecurityState:
    minimum, step, tick = _LOTS.get(symbol, (100, 100, 10))
    fields: dict[str, Any] = {
        "symbol": symbol,
        "lot_minimum": minimum,
        "lot_step": step,
        "tick_li": tick,
        "financing_target": True,
        "short_target": True,
        "collateral": True,
        "haircut_bp": 7_000,
        "financing_margin_bp": 10_000,
        "short_margin_bp": 10_000,
        "financing_halted": False,
        "short_halted": False,
        "suspended": False,
        "last_price_li": LAST,
        "limit_up_li": 11_000,
        "limit_down_li": 9_000,
        "money_market": False,
    }
    fields.update(changes)
    return SecurityState(**fields)


def unlisted(symbol: str = MAIN, **changes: Any) -> SecurityState:
    """On no list at all: neither collateral nor a target."""
    return security(symbol, financing_target=False, short_target=False, collateral=False, **changes)


def position(**changes: Any) -> PositionState:
    return PositionState(**changes)


def account(
    *,
    positions: dict[str, PositionState] | None = None,
    financing_limit_fen: int = BIG,
    short_limit_fen: int = BIG,
    total_limit_fen: int = BIG,
    financing_used_fen: int = 0,
    short_used_fen: int = 0,
    **changes: Any,
) -> AccountState:
    fields: dict[str, Any] = {
        "account_id": "E001",
        "client_id": "C001",
        "account_type": AccountType.CREDIT,
        "status": AccountStatus.NORMAL,
        "limits": CreditLimits(
            financing_limit_fen=financing_limit_fen,
            short_limit_fen=short_limit_fen,
            total_limit_fen=total_limit_fen,
            financing_used_fen=financing_used_fen,
            short_used_fen=short_used_fen,
        ),
        "available_margin_li": BIG,
        "valued_at": "2026-03-02T10:00:00",
        "cash_free_fen": BIG,
        "cash_locked_fen": 0,
        "collateral_value_li": 0,
        "concentration_limit_bp": NO_CONCENTRATION_LIMIT,
        "positions": positions if positions is not None else {},
    }
    fields.update(changes)
    return AccountState(**fields)


def holding(symbol: str = MAIN, **changes: Any) -> dict[str, PositionState]:
    return {symbol: position(**changes)}


def firm(**changes: Any) -> FirmState:
    fields: dict[str, Any] = {
        "financing_pool_available_fen": BIG,
        "lending_pool_available": {MAIN: 10**9, STAR: 10**9, BOND: 10**9, OTHER: 10**9},
    }
    fields.update(changes)
    return FirmState(**fields)


def order(
    kind: OrderKind,
    quantity: int = 1_000,
    price_li: int = LAST,
    symbol: str = MAIN,
    **changes: Any,
) -> Order:
    fields: dict[str, Any] = {
        "order_id": "O1",
        "account_id": "E001",
        "account_type": AccountType.CREDIT,
        "trading_unit": "12345",
        "symbol": symbol,
        "kind": kind,
        "side": kind.side,
        "price_li": price_li,
        "quantity": quantity,
        "credit_flag": True,
        "business": BusinessType.TRADE,
    }
    fields.update(changes)
    return Order(**fields)


def request(kind: NonTradeKind, **changes: Any) -> NonTradeRequest:
    fields: dict[str, Any] = {"request_id": "R1", "account_id": "E001", "kind": kind}
    fields.update(changes)
    return NonTradeRequest(**fields)

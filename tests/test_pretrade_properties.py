"""Hypothesis properties of the front-end checks.

- the integer fee and amount helpers equal the exact ``Fraction`` definitions;
- first failure wins: an order breaking any set of rules gets the code of the earliest of
  them in ``PRECEDENCE``;
- applying every accepted reservation, order after order, never takes a limit past its
  bound: used + reserved ≤ limit, reserved margin ≤ available margin, pools, cash, sellable
  and coverable quantities ≥ 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liangrong.domain.fees import FeeSchedule, fee_reserve_fen
from liangrong.domain.money import Rounding, li_to_fen, trade_amount_fen
from liangrong.domain.order_codes import RANK, OrderCode
from liangrong.domain.orders import (
    AccountType,
    BusinessType,
    NonTradeKind,
    OrderKind,
    Side,
)
from liangrong.domain.pretrade import Reservation, check_nontrade, check_order
from liangrong.domain.pretrade_state import AccountState, AccountStatus, FirmState
from liangrong.domain.reservations import order_fee_fen
from pretrade_helpers import (
    FEES,
    LAST,
    MAIN,
    STAR,
    TICK,
    account,
    firm,
    holding,
    order,
    request,
    security,
)

K = OrderKind
C = OrderCode


@settings(max_examples=500)
@given(
    st.booleans(),
    st.integers(0, 10**13),
    st.integers(0, 5_000),
    st.integers(0, 10_000),
    st.integers(0, 2_000),
    st.integers(0, 100),
)
def test_integer_fees_equal_the_exact_definition(
    sell: bool, value_li: int, commission: int, minimum: int, stamp: int, transfer: int
) -> None:
    schedule = FeeSchedule(commission, minimum, stamp, transfer)
    side = Side.SELL if sell else Side.BUY
    assert order_fee_fen(sell, value_li, schedule) == fee_reserve_fen(side, value_li, schedule)


@given(st.integers(0, 10**9), st.integers(0, 10**7))
def test_trade_amount_is_half_up(quantity: int, price_li: int) -> None:
    assert trade_amount_fen(quantity, price_li) == li_to_fen(quantity * price_li, Rounding.HALF_UP)


# First failure wins.  Each fault breaks one rule and touches fields no other fault of the same
# kind touches, so a set of faults breaks exactly their rules.


@dataclass
class Spec:
    kind: OrderKind
    quantity: int = 1_000
    order: dict[str, Any] = field(default_factory=dict)
    account: dict[str, Any] = field(default_factory=dict)
    security: dict[str, Any] = field(default_factory=dict)
    firm: dict[str, Any] = field(default_factory=dict)
    position: dict[str, Any] = field(default_factory=dict)
    unknown_security: bool = False

    def run(self) -> OrderCode | Reservation:
        fields = {"has_open_financing": True, **self.account}
        a = account(positions=holding(**self.position), **fields)
        s = None if self.unknown_security else security(**self.security)
        o = order(self.kind, self.quantity, **self.order)
        return check_order(o, a, s, firm(**self.firm), FEES)


def _ordinary(s: Spec) -> None:
    s.account["account_type"] = AccountType.ORDINARY


def _no_flag(s: Spec) -> None:
    s.order["credit_flag"] = False


def _wrong_side(s: Spec) -> None:
    s.order["side"] = Side.SELL if s.kind.side is Side.BUY else Side.BUY


def _banned(s: Spec) -> None:
    s.order["business"] = BusinessType.REPO


def _unknown(s: Spec) -> None:
    s.unknown_security = True


def _status(s: Spec) -> None:
    s.account["status"] = AccountStatus.CALL_RESTRICTED


def _liquidation(s: Spec) -> None:
    s.account["status"] = AccountStatus.LIQUIDATION


def _set(target: str, name: str, value: Any) -> Any:
    def apply(s: Spec) -> None:
        getattr(s, target)[name] = value

    return apply


def _quantity(value: int) -> Any:
    def apply(s: Spec) -> None:
        s.quantity = value

    return apply


COMMON = {
    C.ORDINARY_ACCOUNT_CREDIT_FLAG: _ordinary,
    C.CREDIT_FLAG_MISSING: _no_flag,
    C.INVALID_ORDER: _wrong_side,
    C.BUSINESS_NOT_ALLOWED: _banned,
    C.UNKNOWN_SECURITY: _unknown,
    C.SECURITY_SUSPENDED: _set("security", "suspended", True),
    C.PRICE_TICK: _set("order", "price_li", LAST + 5),
    C.PRICE_OUTSIDE_LIMITS: _set("security", "limit_up_li", LAST - TICK),
}

FAULTS: dict[OrderKind, dict[OrderCode, Any]] = {
    K.MARGIN_BUY: {
        **COMMON,
        C.ACCOUNT_CALL_RESTRICTED: _status,
        C.NOT_FINANCING_TARGET: _set("security", "financing_target", False),
        C.FINANCING_HALTED: _set("security", "financing_halted", True),
        C.INSIDER_TRADING: _set("account", "insider_symbols", frozenset({MAIN})),
        C.LOT_SIZE: _quantity(150),
        C.CONCENTRATION_LIMIT: _set("account", "concentration_limit_bp", 0),
        C.FINANCING_LIMIT: _set("account", "financing_limit_fen", 0),
        C.TOTAL_LIMIT: _set("account", "total_limit_fen", 0),
        C.INSUFFICIENT_MARGIN: _set("account", "available_margin_li", 0),
        C.FINANCING_POOL_EXHAUSTED: _set("firm", "financing_pool_available_fen", 0),
    },
    K.SHORT_SELL: {
        **COMMON,
        C.ACCOUNT_CALL_RESTRICTED: _status,
        C.NOT_SHORT_TARGET: _set("security", "short_target", False),
        C.SHORT_HALTED: _set("security", "short_halted", True),
        C.INSIDER_TRADING: _set("account", "insider_symbols", frozenset({MAIN})),
        C.LOCKUP_SHORT: _set("account", "lockup_symbols", frozenset({MAIN})),
        C.LOT_SIZE: _quantity(150),
        C.SHORT_PRICE_BELOW_LAST: _set("security", "last_price_li", LAST + TICK),
        C.SHORT_LIMIT: _set("account", "short_limit_fen", 0),
        C.TOTAL_LIMIT: _set("account", "total_limit_fen", 0),
        C.INSUFFICIENT_MARGIN: _set("account", "available_margin_li", 0),
        C.LENDING_POOL_EXHAUSTED: _set("firm", "lending_pool_available", {}),
    },
    K.SELL_TO_REPAY: {
        **COMMON,
        C.ACCOUNT_IN_LIQUIDATION: _liquidation,
        C.NOTHING_TO_REPAY: _set("account", "has_open_financing", False),
        C.INSUFFICIENT_POSITION: _set("position", "bought_today", 500),
        C.LOT_SIZE: _quantity(950),
        C.SELL_PRICE_BELOW_LAST_WHILE_SHORT: _set("security", "last_price_li", LAST + TICK),
    },
    K.BUY_TO_COVER: {
        **COMMON,
        C.ACCOUNT_IN_LIQUIDATION: _liquidation,
        C.SAME_DAY_COVER: _set("position", "short_opened_today", 600),
        C.LOT_SIZE: _quantity(550),
        C.INSUFFICIENT_CASH: _set("account", "cash_free_fen", 0),
    },
}
BASE_QUANTITY = {
    K.MARGIN_BUY: 1_000,
    K.SHORT_SELL: 1_000,
    K.SELL_TO_REPAY: 900,
    K.BUY_TO_COVER: 500,
}
BASE_POSITION = {
    K.MARGIN_BUY: {},
    K.SHORT_SELL: {},
    K.SELL_TO_REPAY: {"quantity": 1_000, "short_quantity": 300},
    K.BUY_TO_COVER: {"short_quantity": 1_000},
}


def _spec(kind: OrderKind, codes: frozenset[OrderCode]) -> Spec:
    spec = Spec(kind, BASE_QUANTITY[kind], position=dict(BASE_POSITION[kind]))
    for code in sorted(codes, key=RANK.__getitem__):
        FAULTS[kind][code](spec)
    return spec


@pytest.mark.parametrize("kind", list(FAULTS))
def test_base_orders_are_accepted(kind: OrderKind) -> None:
    assert isinstance(_spec(kind, frozenset()).run(), Reservation)


@pytest.mark.parametrize(
    ("kind", "code"), [(kind, code) for kind, faults in FAULTS.items() for code in faults]
)
def test_each_fault_alone_gives_its_code(kind: OrderKind, code: OrderCode) -> None:
    assert _spec(kind, frozenset({code})).run() is code


@settings(max_examples=400)
@given(st.data())
def test_first_failure_in_precedence_wins(data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(list(FAULTS)))
    codes = data.draw(st.frozensets(st.sampled_from(list(FAULTS[kind])), min_size=1))
    assert _spec(kind, codes).run() is min(codes, key=RANK.__getitem__)


# Reservations applied in sequence never over-lend.

SYMBOLS = (MAIN, STAR)
SECURITIES = {
    MAIN: security(MAIN, financing_margin_bp=10_000, short_margin_bp=12_000),
    STAR: security(STAR, financing_margin_bp=15_000, short_margin_bp=10_000),
}


def _apply(r: Reservation, symbol: str, a: AccountState, f: FirmState) -> None:
    """What the book does with an accepted reservation (the checks' contract with it)."""
    a.reserved_margin_e4li += r.margin_e4li
    a.cash_free_fen -= r.cash_fen
    a.cash_locked_fen -= r.locked_cash_fen
    a.limits.financing_used_fen += r.financing_fen
    a.limits.short_used_fen += r.short_value_fen
    f.financing_pool_available_fen -= r.financing_fen
    if r.pool_shares:
        f.lending_pool_available[symbol] -= r.pool_shares
    if r.sell_shares or r.cover_shares:
        p = a.positions[symbol]
        p.reserved_for_sale += r.sell_shares
        p.reserved_for_cover += r.cover_shares


def _assert_within_limits(a: AccountState, f: FirmState) -> None:
    lim = a.limits
    assert lim.financing_used_fen <= lim.financing_limit_fen
    assert lim.short_used_fen <= lim.short_limit_fen
    assert lim.financing_used_fen + lim.short_used_fen <= lim.total_limit_fen
    assert a.reserved_margin_e4li <= a.available_margin_li * 10_000
    assert a.cash_free_fen >= 0 and a.cash_locked_fen >= 0
    assert f.financing_pool_available_fen >= 0
    assert all(shares >= 0 for shares in f.lending_pool_available.values())
    for p in a.positions.values():
        assert p.sellable >= 0
        assert p.short_quantity - p.short_opened_today - p.reserved_for_cover >= 0


order_kinds = st.sampled_from(list(OrderKind))


def sizes(high: int) -> st.SearchStrategy[int]:
    """Anything up to ``high``, often ``high`` itself, so that orders are also accepted."""
    return st.one_of(st.just(high), st.integers(0, high))


quantities = st.one_of(st.sampled_from([100, 200, 201, 300, 500]), st.integers(1, 3_000))
prices = st.one_of(st.just(0), st.integers(-3, 3)).map(lambda ticks: LAST + ticks * TICK)
nontrade = st.sampled_from(
    [
        NonTradeKind.DIRECT_RETURN,
        NonTradeKind.TRANSFER_OUT,
        NonTradeKind.DIRECT_REPAYMENT,
        NonTradeKind.CASH_WITHDRAWAL,
    ]
)


@settings(max_examples=200)
@given(st.data())
def test_accepted_reservations_never_break_a_limit(data: st.DataObject) -> None:
    draw = data.draw
    financing_limit = draw(sizes(3_000_000))
    short_limit = draw(sizes(3_000_000))
    positions = {}
    for symbol in SYMBOLS:
        held = draw(st.integers(0, 3_000))
        short = draw(st.integers(0, 3_000))
        positions[symbol] = holding(
            symbol,
            quantity=held,
            bought_today=draw(st.integers(0, held)),
            restricted=0,
            short_quantity=short,
            short_opened_today=draw(st.integers(0, short)),
            value_li=held * LAST,
        )[symbol]
    a = account(
        positions=positions,
        financing_limit_fen=financing_limit,
        short_limit_fen=short_limit,
        total_limit_fen=draw(sizes(5_000_000)),
        available_margin_li=draw(sizes(50_000_000)),
        cash_free_fen=draw(sizes(3_000_000)),
        cash_locked_fen=draw(sizes(3_000_000)),
        collateral_value_li=draw(sizes(100_000_000)),
        concentration_limit_bp=draw(st.one_of(st.integers(0, 12_000), st.just(7_000))),
        has_open_financing=draw(st.booleans()),
        margin_overrides_bp={(MAIN, K.MARGIN_BUY): 20_000},
    )
    f = firm(
        financing_pool_available_fen=draw(sizes(5_000_000)),
        lending_pool_available={s: draw(sizes(5_000)) for s in SYMBOLS},
    )
    _assert_within_limits(a, f)
    for _ in range(draw(st.integers(1, 25))):
        symbol = draw(st.sampled_from(SYMBOLS))
        if draw(st.integers(0, 4)) == 0:
            r = request(
                draw(nontrade),
                symbol=symbol,
                quantity=draw(quantities),
                amount_fen=draw(st.integers(1, 2_000_000)),
            )
            result = check_nontrade(r, a, SECURITIES[symbol], f)
        else:
            o = order(draw(order_kinds), draw(quantities), draw(prices), symbol)
            result = check_order(o, a, SECURITIES[symbol], f, FEES)
        if isinstance(result, Reservation):
            _apply(result, symbol, a, f)
        _assert_within_limits(a, f)

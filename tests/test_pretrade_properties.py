"""Hypothesis properties of the front-end checks.

- the integer fee and amount helpers equal the exact ``Fraction`` definitions;
- first failure wins: an order breaking any set of rules gets the code of the earliest of
  them in ``PRECEDENCE``;
- applying every accepted reservation, order after order, never takes a limit past its
  bound: used + reserved ≤ limit, reserved margin ≤ available margin, pools, cash, sellable
  and coverable quantities ≥ 0; and what the accepted orders hold on the firm's room
  (RISK-11) never passes a room: together they fit every firm, security and client limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liangrong.domain.fees import FeeSchedule, fee_reserve_fen
from liangrong.domain.firm_limits import FirmRoom, Indicator
from liangrong.domain.money import Rounding, li_to_fen, trade_amount_fen
from liangrong.domain.order_codes import RANK, OrderCode
from liangrong.domain.orders import (
    AccountType,
    BusinessType,
    NonTradeKind,
    OrderKind,
    Side,
)
from liangrong.domain.pretrade import Reservation, check_nontrade, check_order, firm_use
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
from test_firm_blocks import firm_room_of, stock_shares

K = OrderKind
C = OrderCode
I = Indicator  # noqa: E741
NOT_ONE_FEN = Fraction(1, 10**15)  # a share of the tests' net capital that leaves no room


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
    # The firm-level limits (RISK-11): generous unless a fault sets one that leaves no room.
    firm_limits: dict[Indicator, Fraction] = field(
        default_factory=lambda: {I.TOTAL_TO_NET_CAPITAL: Fraction(4)}
    )
    float_shares: int = 10**12

    def run(self) -> OrderCode | Reservation:
        fields = {"has_open_financing": True, **self.account}
        a = account(positions=holding(**self.position), **fields)
        s = None if self.unknown_security else security(**self.security)
        o = order(self.kind, self.quantity, **self.order)
        shares = stock_shares(MAIN, float_=self.float_shares)
        room = firm_room_of(self.firm_limits, shares=shares)
        return check_order(o, a, s, firm(limits=room, **self.firm), FEES)


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


def _firm_limit(indicator: Indicator, share: Fraction, float_shares: int | None = None) -> Any:
    def apply(s: Spec) -> None:
        s.firm_limits[indicator] = share
        if float_shares is not None:
            s.float_shares = float_shares

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
        C.IDENTITY_DOCUMENT_EXPIRED: _set("account", "new_debt_refused", True),
        C.NOT_FINANCING_TARGET: _set("security", "financing_target", False),
        C.FINANCING_HALTED: _set("security", "financing_halted", True),
        C.INSIDER_TRADING: _set("account", "insider_symbols", frozenset({MAIN})),
        C.LOT_SIZE: _quantity(150),
        C.CONCENTRATION_LIMIT: _set("account", "concentration_limit_bp", 0),
        C.FINANCING_LIMIT: _set("account", "financing_limit_fen", 0),
        C.TOTAL_LIMIT: _set("account", "total_limit_fen", 0),
        C.INSUFFICIENT_MARGIN: _set("account", "available_margin_li", 0),
        C.FIRM_CLIENT_LIMIT: _firm_limit(I.CLIENT_FINANCING_TO_NET_CAPITAL, NOT_ONE_FEN),
        C.FIRM_SECURITY_LIMIT: _firm_limit(I.FINANCED_TO_FLOAT, Fraction(1, 20), 100),
        C.FIRM_SCALE_LIMIT: _firm_limit(I.TOTAL_TO_NET_CAPITAL, NOT_ONE_FEN),
        C.FINANCING_POOL_EXHAUSTED: _set("firm", "financing_pool_available_fen", 0),
    },
    K.SHORT_SELL: {
        **COMMON,
        C.ACCOUNT_CALL_RESTRICTED: _status,
        C.IDENTITY_DOCUMENT_EXPIRED: _set("account", "new_debt_refused", True),
        C.NOT_SHORT_TARGET: _set("security", "short_target", False),
        C.SHORT_HALTED: _set("security", "short_halted", True),
        C.INSIDER_TRADING: _set("account", "insider_symbols", frozenset({MAIN})),
        C.LOCKUP_SHORT: _set("account", "lockup_symbols", frozenset({MAIN})),
        C.LOT_SIZE: _quantity(150),
        C.SHORT_PRICE_BELOW_LAST: _set("security", "last_price_li", LAST + TICK),
        C.SHORT_LIMIT: _set("account", "short_limit_fen", 0),
        C.TOTAL_LIMIT: _set("account", "total_limit_fen", 0),
        C.INSUFFICIENT_MARGIN: _set("account", "available_margin_li", 0),
        C.FIRM_CLIENT_LIMIT: _firm_limit(I.CLIENT_LENDING_TO_NET_CAPITAL, NOT_ONE_FEN),
        C.FIRM_SECURITY_LIMIT: _firm_limit(I.SHORTS_TO_FLOAT, Fraction(1, 50), 100),
        C.FIRM_SCALE_LIMIT: _firm_limit(I.TOTAL_TO_NET_CAPITAL, NOT_ONE_FEN),
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
    """What the book does with an accepted reservation (the checks' contract with it); the
    order's firm use is held on the firm's room by the caller."""
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


def _assert_within_firm_room(a: AccountState, room: FirmRoom) -> None:
    """Together the accepted orders fit every firm room (nothing was held at evaluation)."""
    b = room.blocks
    for held, limit in ((room.financing_fen, b.financing), (room.lending_fen, b.lending)):
        assert limit is None or held <= limit.amount
    for symbol, rooms in b.securities.items():
        held = room.held.get(symbol)
        if held is None:
            continue
        for used, left in (
            (held.financed_shares, rooms.financed_shares),
            (held.short_shares, rooms.short_shares),
            (held.intake_shares, rooms.collateral_shares),
            (held.amount_fen, rooms.amount_fen),
        ):
            assert left is None or used <= left
    for used, cap in (
        (a.limits.financing_used_fen, b.client_financing_cap),
        (a.limits.short_used_fen, b.client_lending_cap),
    ):
        assert cap is None or used <= cap.amount


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
    # Firm-level limits over a net capital of N fen and share counts of both securities.
    net_capital = draw(st.integers(1, 6_000_000))
    of_net_capital = st.sampled_from([Fraction(1, 10), Fraction(1, 2), Fraction(1), Fraction(3)])
    kept = {  # each limit kept or not, so that each of them is sometimes the one that binds
        I.TOTAL_TO_NET_CAPITAL: draw(st.none() | of_net_capital),
        I.FINANCING_TO_NET_CAPITAL: draw(st.none() | of_net_capital),
        I.LENDING_TO_NET_CAPITAL: draw(st.none() | of_net_capital),
        I.CLIENT_FINANCING_TO_NET_CAPITAL: draw(st.none() | of_net_capital),
        I.CLIENT_LENDING_TO_NET_CAPITAL: draw(st.none() | of_net_capital),
        I.SECURITY_TO_NET_CAPITAL: draw(st.none() | of_net_capital),
        I.COLLATERAL_TO_TOTAL_SHARES: draw(st.none() | st.just(Fraction(1, 5))),
        I.FINANCED_TO_FLOAT: draw(st.none() | st.just(Fraction(1, 20))),
        I.SHORTS_TO_FLOAT: draw(st.none() | st.just(Fraction(1, 50))),
    }
    firm_limits = {indicator: share for indicator, share in kept.items() if share is not None}
    counts = st.integers(1, 300_000)
    shares = {
        **stock_shares(MAIN, draw(counts), draw(counts)),
        **stock_shares(STAR, draw(counts), draw(counts)),
    }
    room = firm_room_of(firm_limits, net_capital_fen=net_capital, shares=shares)
    f = firm(
        financing_pool_available_fen=draw(sizes(5_000_000)),
        lending_pool_available={s: draw(sizes(5_000)) for s in SYMBOLS},
        limits=room,
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
            use = firm_use(o, result) if isinstance(result, Reservation) else None
            if use is not None:
                room.hold(use)
        if isinstance(result, Reservation):
            _apply(result, symbol, a, f)
        _assert_within_limits(a, f)
        _assert_within_firm_room(a, room)

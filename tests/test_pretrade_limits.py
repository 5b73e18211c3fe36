"""Boundary tests of every numeric limit of the front-end checks: at limit − 1, limit and
limit + 1 in the limit's own unit (fen, li, li × bp, shares, bp of share, ticks)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from liangrong.domain.fees import fee_reserve_fen
from liangrong.domain.firm_limits import (
    ClientExposure,
    FirmUse,
    Indicator,
    SecurityExposure,
    SecurityShares,
)
from liangrong.domain.money import trade_amount_fen
from liangrong.domain.order_codes import OrderCode
from liangrong.domain.orders import NonTradeKind, OrderKind, Side
from liangrong.domain.pretrade import Reservation, check_nontrade, check_order
from liangrong.domain.pretrade_state import AccountState, FirmState, SecurityState
from pretrade_helpers import (
    BOND,
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
N = NonTradeKind
C = OrderCode
QTY = 1000
VALUE_LI = QTY * LAST
AMOUNT = trade_amount_fen(QTY, LAST)
FINANCING = AMOUNT + fee_reserve_fen(Side.BUY, VALUE_LI, FEES)  # a margin buy of QTY at LAST
OFFSETS = (-1, 0, 1)


def run(
    kind: OrderKind,
    a: AccountState,
    *,
    quantity: int = QTY,
    price_li: int = LAST,
    symbol: str = MAIN,
    s: SecurityState | None = None,
    f: FirmState | None = None,
) -> OrderCode | Reservation:
    o = order(kind, quantity, price_li, symbol)
    return check_order(o, a, s or security(symbol), f or firm(), FEES)


def outcome(result: OrderCode | Reservation) -> OrderCode | None:
    return result if isinstance(result, OrderCode) else None


def short_of(refused_below: OrderCode, offset: int) -> OrderCode | None:
    """Headroom = need + offset: one unit short is refused, exactly enough is accepted."""
    return refused_below if offset < 0 else None


# Available margin (item 12), in li × bp and in li


@pytest.mark.parametrize("offset", OFFSETS)
def test_available_margin_margin_buy_e4li(offset: int) -> None:
    need = FINANCING * 10 * 10_000
    available_li = need // 10_000 + 5
    a = account(
        available_margin_li=available_li, reserved_margin_e4li=available_li * 10_000 - need - offset
    )
    assert outcome(run(K.MARGIN_BUY, a)) == short_of(C.INSUFFICIENT_MARGIN, offset)


@pytest.mark.parametrize("offset", OFFSETS)
def test_available_margin_margin_buy_li(offset: int) -> None:
    # ratio 100%: the margin is the financing itself, FINANCING × 10 li
    a = account(available_margin_li=FINANCING * 10 + offset)
    assert outcome(run(K.MARGIN_BUY, a)) == short_of(C.INSUFFICIENT_MARGIN, offset)


@pytest.mark.parametrize("offset", OFFSETS)
def test_available_margin_short_li_at_override_ratio(offset: int) -> None:
    # 50% client ratio: AMOUNT × 10 × 5_000 / 10_000 li
    a = account(
        available_margin_li=AMOUNT * 5 + offset,
        margin_overrides_bp={(MAIN, K.SHORT_SELL): 5_000},
    )
    assert outcome(run(K.SHORT_SELL, a)) == short_of(C.INSUFFICIENT_MARGIN, offset)


@pytest.mark.parametrize("offset", OFFSETS)
def test_available_margin_short_e4li_odd_ratio(offset: int) -> None:
    need = AMOUNT * 10 * 13_333
    a = account(
        available_margin_li=need // 10_000 + 1,
        reserved_margin_e4li=(need // 10_000 + 1) * 10_000 - need - offset,
    )
    s = security(short_margin_bp=13_333)
    assert outcome(run(K.SHORT_SELL, a, s=s)) == short_of(C.INSUFFICIENT_MARGIN, offset)


# Credit limits (item 14), in fen


@pytest.mark.parametrize("offset", OFFSETS)
def test_financing_limit(offset: int) -> None:
    a = account(financing_used_fen=123_456, financing_limit_fen=123_456 + FINANCING + offset)
    assert outcome(run(K.MARGIN_BUY, a)) == short_of(C.FINANCING_LIMIT, offset)


@pytest.mark.parametrize("offset", OFFSETS)
def test_short_limit(offset: int) -> None:
    a = account(short_used_fen=77_700, short_limit_fen=77_700 + AMOUNT + offset)
    assert outcome(run(K.SHORT_SELL, a)) == short_of(C.SHORT_LIMIT, offset)


@pytest.mark.parametrize("offset", OFFSETS)
def test_total_limit_margin_buy(offset: int) -> None:
    a = account(
        financing_used_fen=1_000, short_used_fen=2_000, total_limit_fen=3_000 + FINANCING + offset
    )
    assert outcome(run(K.MARGIN_BUY, a)) == short_of(C.TOTAL_LIMIT, offset)


@pytest.mark.parametrize("offset", OFFSETS)
def test_total_limit_short(offset: int) -> None:
    a = account(
        financing_used_fen=1_000, short_used_fen=2_000, total_limit_fen=3_000 + AMOUNT + offset
    )
    assert outcome(run(K.SHORT_SELL, a)) == short_of(C.TOTAL_LIMIT, offset)


# The firm's pools (item 7, ACC-3), in fen and shares


@pytest.mark.parametrize("offset", OFFSETS)
def test_financing_pool(offset: int) -> None:
    f = firm(financing_pool_available_fen=FINANCING + offset)
    assert outcome(run(K.MARGIN_BUY, account(), f=f)) == short_of(
        C.FINANCING_POOL_EXHAUSTED, offset
    )


@pytest.mark.parametrize("offset", OFFSETS)
def test_lending_pool(offset: int) -> None:
    f = firm(lending_pool_available={MAIN: QTY + offset})
    assert outcome(run(K.SHORT_SELL, account(), f=f)) == short_of(C.LENDING_POOL_EXHAUSTED, offset)


# The firm-level limits (RISK-11): the room is room − 1, room and room + 1 of what the order
# needs, in fen or shares.  I: the indicator; E: what the book already holds of it.

I = Indicator  # noqa: E741


@pytest.mark.parametrize("spare", [0, 19])  # a net capital that is not a multiple of 20
@pytest.mark.parametrize("offset", OFFSETS)
def test_firm_client_financing_cap(offset: int, spare: int) -> None:
    used = 123_456  # the client's financing and open margin buys, as the book keeps it
    cap = used + FINANCING + offset  # = ⌊5% of net capital⌋
    f = firm(
        limits=firm_room_of(
            {I.CLIENT_FINANCING_TO_NET_CAPITAL: Fraction(1, 20)}, net_capital_fen=20 * cap + spare
        )
    )
    a = account(financing_used_fen=used)
    assert outcome(run(K.MARGIN_BUY, a, f=f)) == short_of(C.FIRM_CLIENT_LIMIT, offset)


@pytest.mark.parametrize("offset", OFFSETS)
def test_firm_client_lending_cap(offset: int) -> None:
    used = 77_700
    cap = used + AMOUNT + offset
    f = firm(
        limits=firm_room_of(
            {I.CLIENT_LENDING_TO_NET_CAPITAL: Fraction(1, 20)}, net_capital_fen=20 * cap
        )
    )
    a = account(short_used_fen=used)
    assert outcome(run(K.SHORT_SELL, a, f=f)) == short_of(C.FIRM_CLIENT_LIMIT, offset)


@pytest.mark.parametrize("offset", OFFSETS)
def test_firm_client_cap_against_the_firms_line(offset: int) -> None:
    """One client ÷ the firm's financing line (S1 art. 52): 2% of the line."""
    f = firm(
        limits=firm_room_of(
            {I.CLIENT_FINANCING_TO_LINE: Fraction(1, 50)},
            financing_line_fen=50 * (FINANCING + offset),
        )
    )
    assert outcome(run(K.MARGIN_BUY, account(), f=f)) == short_of(C.FIRM_CLIENT_LIMIT, offset)


@pytest.mark.parametrize("offset", OFFSETS)
def test_firm_security_financed_float(offset: int) -> None:
    e = 2_000  # financed shares of MAIN already in the book
    exposure = SecurityExposure(MAIN, 0, 0, 0, e, 0)
    shares = stock_shares(MAIN, float_=20 * (e + QTY + offset))  # 5% of float
    f = firm(
        limits=firm_room_of(
            {I.FINANCED_TO_FLOAT: Fraction(1, 20)}, securities=[exposure], shares=shares
        )
    )
    assert outcome(run(K.MARGIN_BUY, account(), f=f)) == short_of(C.FIRM_SECURITY_LIMIT, offset)


@pytest.mark.parametrize("offset", OFFSETS)
def test_firm_security_shorts_float(offset: int) -> None:
    e = 700
    exposure = SecurityExposure(MAIN, 0, 0, 0, 0, e)
    shares = stock_shares(MAIN, float_=50 * (e + QTY + offset))  # 2% of float
    f = firm(
        limits=firm_room_of(
            {I.SHORTS_TO_FLOAT: Fraction(1, 50)}, securities=[exposure], shares=shares
        )
    )
    assert outcome(run(K.SHORT_SELL, account(), f=f)) == short_of(C.FIRM_SECURITY_LIMIT, offset)


@pytest.mark.parametrize("kind", [K.COLLATERAL_BUY, K.MARGIN_BUY])
@pytest.mark.parametrize("offset", OFFSETS)
def test_firm_security_collateral_of_total(kind: OrderKind, offset: int) -> None:
    e = 5_000  # shares of MAIN in all credit accounts
    exposure = SecurityExposure(MAIN, 0, 0, e, 0, 0)
    shares = stock_shares(MAIN, total=5 * (e + QTY + offset))  # 20% of total
    f = firm(
        limits=firm_room_of(
            {I.COLLATERAL_TO_TOTAL_SHARES: Fraction(1, 5)}, securities=[exposure], shares=shares
        )
    )
    assert outcome(run(kind, account(), f=f)) == short_of(C.FIRM_SECURITY_LIMIT, offset)


def test_firm_security_collateral_rule_is_for_stocks_only() -> None:
    etf = {MAIN: SecurityShares(total_shares=1, float_shares=1, stock=False)}
    f = firm(limits=firm_room_of({I.COLLATERAL_TO_TOTAL_SHARES: Fraction(1, 5)}, shares=etf))
    assert outcome(run(K.COLLATERAL_BUY, account(), f=f)) is None


@pytest.mark.parametrize("offset", OFFSETS)
def test_firm_security_amount_of_net_capital(offset: int) -> None:
    e = 300_000  # financing + lending of MAIN, fen
    exposure = SecurityExposure(MAIN, e, 0, 0, 0, 0)
    f = firm(
        limits=firm_room_of(
            {I.SECURITY_TO_NET_CAPITAL: Fraction(1, 10)},
            net_capital_fen=10 * (e + FINANCING + offset),
            securities=[exposure],
            shares=stock_shares(MAIN),
        )
    )
    assert outcome(run(K.MARGIN_BUY, account(), f=f)) == short_of(C.FIRM_SECURITY_LIMIT, offset)


@pytest.mark.parametrize("offset", OFFSETS)
def test_firm_scale_total_of_net_capital(offset: int) -> None:
    net_capital = 100_000_000
    lending = 1_234_567
    financing = 4 * net_capital - lending - FINANCING - offset  # room: FINANCING + offset
    f = firm(
        limits=firm_room_of(
            {I.TOTAL_TO_NET_CAPITAL: Fraction(4)},
            net_capital_fen=net_capital,
            financing_fen=financing,
            lending_fen=lending,
        )
    )
    assert outcome(run(K.MARGIN_BUY, account(), f=f)) == short_of(C.FIRM_SCALE_LIMIT, offset)


@pytest.mark.parametrize("offset", OFFSETS)
def test_firm_scale_lending_of_net_capital(offset: int) -> None:
    net_capital = 10_000_000  # 30%: 3,000,000 fen of lending
    f = firm(
        limits=firm_room_of(
            {I.LENDING_TO_NET_CAPITAL: Fraction(3, 10)},
            net_capital_fen=net_capital,
            lending_fen=3_000_000 - AMOUNT - offset,
        )
    )
    assert outcome(run(K.SHORT_SELL, account(), f=f)) == short_of(C.FIRM_SCALE_LIMIT, offset)


@pytest.mark.parametrize("offset", OFFSETS)
def test_firm_room_less_open_holds(offset: int) -> None:
    """What orders accepted since the evaluation hold is not room any more."""
    room = firm_room_of({I.FINANCING_TO_NET_CAPITAL: Fraction(1)}, net_capital_fen=10_000_000)
    room.hold(FirmUse.margin_buy(STAR, 200, 10_000_000 - FINANCING - offset))
    f = firm(limits=room)
    assert outcome(run(K.MARGIN_BUY, account(), f=f)) == short_of(C.FIRM_SCALE_LIMIT, offset)
    room.release(FirmUse.margin_buy(STAR, 200, 10_000_000 - FINANCING - offset))
    assert outcome(run(K.MARGIN_BUY, account(), f=f)) is None


def test_firm_client_at_its_cap_in_the_evaluation_is_blocked() -> None:
    """A client the evaluation found at the cap (no fen of room) is refused any new
    financing, even if the book's own figure would still fit."""
    cap = 5_000_000
    exposure = ClientExposure("C001", cap, 0)
    limits = {I.CLIENT_FINANCING_TO_NET_CAPITAL: Fraction(1, 20)}
    f = firm(limits=firm_room_of(limits, net_capital_fen=20 * cap, clients=[exposure]))
    assert outcome(run(K.MARGIN_BUY, account(), f=f)) is C.FIRM_CLIENT_LIMIT
    assert outcome(run(K.SHORT_SELL, account(), f=f)) is None  # lending is not blocked


# Concentration (item 10), in basis points of share: both forms


@pytest.mark.parametrize(
    ("limit_bp", "expected"),
    [(2_999, C.CONCENTRATION_LIMIT), (3_000, C.CONCENTRATION_LIMIT), (3_001, None)],
)
def test_concentration_already_reached(limit_bp: int, expected: OrderCode | None) -> None:
    """The security is exactly 30.00% of the collateral before the buy; "达到" includes the
    bound, and the small buy (100 shares) would not carry it past 30.01% by itself."""
    a = account(
        positions=holding(value_li=30_000_000_000),
        collateral_value_li=90_000_000_000,
        cash_free_fen=1_000_000_000,  # 10,000,000,000 li: the base is 100,000,000,000 li
        concentration_limit_bp=limit_bp,
    )
    assert outcome(run(K.MARGIN_BUY, a, quantity=100)) == expected


@pytest.mark.parametrize(
    ("limit_bp", "expected"), [(4_999, C.CONCENTRATION_LIMIT), (5_000, None), (5_001, None)]
)
def test_concentration_after_the_buy(limit_bp: int, expected: OrderCode | None) -> None:
    """After the buy the security is exactly 50.00% of the collateral: passing the limit is
    refused, reaching it with this buy is not ("would carry it past")."""
    a = account(
        collateral_value_li=VALUE_LI - 10 * 1_000,
        cash_free_fen=1_000,
        concentration_limit_bp=limit_bp,
    )
    assert outcome(run(K.MARGIN_BUY, a)) == expected


@pytest.mark.parametrize(
    ("offset", "expected"), [(-1, C.CONCENTRATION_LIMIT), (0, None), (1, None)]
)
def test_concentration_after_the_buy_in_li(offset: int, expected: OrderCode | None) -> None:
    """The same line in li: other collateral worth the buy's value ± 1 li."""
    a = account(
        collateral_value_li=VALUE_LI + offset, cash_free_fen=0, concentration_limit_bp=5_000
    )
    assert outcome(run(K.MARGIN_BUY, a)) == expected


def test_concentration_counts_locked_cash_in_the_base() -> None:
    a = account(
        collateral_value_li=0, cash_free_fen=0, cash_locked_fen=AMOUNT, concentration_limit_bp=5_000
    )
    assert isinstance(run(K.MARGIN_BUY, a), Reservation)
    a = account(
        collateral_value_li=0,
        cash_free_fen=0,
        cash_locked_fen=AMOUNT - 1,
        concentration_limit_bp=5_000,
    )
    assert run(K.MARGIN_BUY, a) is C.CONCENTRATION_LIMIT


def test_concentration_full_limit_refuses_an_all_in_holding() -> None:
    a = account(
        positions=holding(value_li=1_000),
        collateral_value_li=1_000,
        cash_free_fen=0,
        concentration_limit_bp=10_000,
    )
    assert run(K.MARGIN_BUY, a) is C.CONCENTRATION_LIMIT
    a = account(
        positions=holding(value_li=1_000),
        collateral_value_li=1_000,
        cash_free_fen=1,
        concentration_limit_bp=10_000,
    )
    assert isinstance(run(K.MARGIN_BUY, a), Reservation)


# Cash, in fen


@pytest.mark.parametrize("offset", OFFSETS)
def test_cash_collateral_buy(offset: int) -> None:
    a = account(cash_free_fen=FINANCING + offset)  # a buy costs what a margin buy finances
    assert outcome(run(K.COLLATERAL_BUY, a)) == short_of(C.INSUFFICIENT_CASH, offset)


@pytest.mark.parametrize("offset", OFFSETS)
def test_cash_cover_after_locked_proceeds(offset: int) -> None:
    a = account(
        positions=holding(short_quantity=QTY),
        cash_locked_fen=400_000,
        cash_free_fen=FINANCING - 400_000 + offset,
    )
    assert outcome(run(K.BUY_TO_COVER, a)) == short_of(C.INSUFFICIENT_CASH, offset)


@pytest.mark.parametrize("offset", OFFSETS)
@pytest.mark.parametrize("kind", [N.CASH_WITHDRAWAL, N.DIRECT_REPAYMENT])
def test_cash_out(kind: NonTradeKind, offset: int) -> None:
    a = account(cash_free_fen=5_000 + offset, has_open_financing=True)
    result = check_nontrade(request(kind, amount_fen=5_000), a, None, firm())
    assert outcome(result) == short_of(C.INSUFFICIENT_CASH, offset)


@pytest.mark.parametrize("offset", OFFSETS)
def test_withdrawal_line_cash(offset: int) -> None:
    r = request(N.CASH_WITHDRAWAL, amount_fen=5_000)
    result = check_nontrade(r, account(), None, firm(), withdrawal_headroom_li=50_000 + offset)
    assert outcome(result) == short_of(C.WITHDRAWAL_LINE, offset)


@pytest.mark.parametrize("offset", OFFSETS)
def test_withdrawal_line_transfer_out(offset: int) -> None:
    r = request(N.TRANSFER_OUT, symbol=MAIN, quantity=QTY)
    a = account(positions=holding(quantity=QTY))
    result = check_nontrade(r, a, security(), firm(), withdrawal_headroom_li=VALUE_LI + offset)
    assert outcome(result) == short_of(C.WITHDRAWAL_LINE, offset)


# Prices: the short-sale rule (item 8) and price limits, in ticks


@pytest.mark.parametrize(
    ("ticks", "expected"), [(-1, C.SHORT_PRICE_BELOW_LAST), (0, None), (1, None)]
)
def test_short_price_against_last_trade(ticks: int, expected: OrderCode | None) -> None:
    assert outcome(run(K.SHORT_SELL, account(), price_li=LAST + ticks * TICK)) == expected


@pytest.mark.parametrize(
    ("ticks", "expected"), [(-1, C.SELL_PRICE_BELOW_LAST_WHILE_SHORT), (0, None), (1, None)]
)
def test_sale_price_while_short(ticks: int, expected: OrderCode | None) -> None:
    a = account(positions=holding(quantity=QTY, short_quantity=1))
    assert outcome(run(K.COLLATERAL_SELL, a, price_li=LAST + ticks * TICK)) == expected


@pytest.mark.parametrize(
    ("ticks", "expected"), [(-1, None), (0, None), (1, C.PRICE_OUTSIDE_LIMITS)]
)
def test_limit_up(ticks: int, expected: OrderCode | None) -> None:
    s = security(limit_up_li=11_000)
    assert (
        outcome(run(K.COLLATERAL_BUY, account(), price_li=11_000 + ticks * TICK, s=s)) == expected
    )


@pytest.mark.parametrize(
    ("ticks", "expected"), [(-1, C.PRICE_OUTSIDE_LIMITS), (0, None), (1, None)]
)
def test_limit_down(ticks: int, expected: OrderCode | None) -> None:
    s = security(limit_down_li=9_000)
    a = account(positions=holding(quantity=QTY))
    assert outcome(run(K.COLLATERAL_SELL, a, price_li=9_000 + ticks * TICK, s=s)) == expected


# Sale while short beyond the short quantity (item 8), in shares (STAR: 1-share steps)


@pytest.mark.parametrize(
    ("quantity", "expected"), [(699, None), (700, None), (701, C.SELL_PRICE_BELOW_LAST_WHILE_SHORT)]
)
def test_sale_beyond_the_short_quantity(quantity: int, expected: OrderCode | None) -> None:
    """Held 1,000, short 300: below the last price only the 700 beyond the short may go."""
    a = account(positions=holding(STAR, quantity=1_000, short_quantity=300))
    result = run(K.COLLATERAL_SELL, a, quantity=quantity, price_li=LAST - TICK, symbol=STAR)
    assert outcome(result) == expected


@pytest.mark.parametrize(
    ("quantity", "expected"), [(599, None), (600, None), (601, C.SELL_PRICE_BELOW_LAST_WHILE_SHORT)]
)
def test_sale_beyond_the_short_counts_open_sales(quantity: int, expected: OrderCode | None) -> None:
    """An open sale of 100 has already taken 100 of the 700 beyond the short."""
    a = account(positions=holding(STAR, quantity=1_000, short_quantity=300, reserved_for_sale=100))
    result = run(K.COLLATERAL_SELL, a, quantity=quantity, price_li=LAST - TICK, symbol=STAR)
    assert outcome(result) == expected


def test_sale_beyond_the_short_in_lots() -> None:
    a = account(positions=holding(quantity=1_000, short_quantity=300))
    below = LAST - TICK
    assert isinstance(run(K.COLLATERAL_SELL, a, quantity=700, price_li=below), Reservation)
    assert (
        run(K.COLLATERAL_SELL, a, quantity=800, price_li=below)
        is C.SELL_PRICE_BELOW_LAST_WHILE_SHORT
    )
    assert isinstance(run(K.COLLATERAL_SELL, a, quantity=1_000, price_li=LAST), Reservation)


# Sellable and coverable quantities, in shares


@pytest.mark.parametrize(
    ("quantity", "expected"), [(899, None), (900, None), (901, C.INSUFFICIENT_POSITION)]
)
def test_sellable_excludes_bought_today(quantity: int, expected: OrderCode | None) -> None:
    a = account(positions=holding(STAR, quantity=1_000, bought_today=100))
    assert outcome(run(K.COLLATERAL_SELL, a, quantity=quantity, symbol=STAR)) == expected


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        (799, None),
        (800, None),
        (801, C.RESTRICTED_SHARES),
        (900, C.RESTRICTED_SHARES),
        (901, C.INSUFFICIENT_POSITION),
    ],
)
def test_sellable_excludes_restricted_and_reserved(
    quantity: int, expected: OrderCode | None
) -> None:
    a = account(positions=holding(STAR, quantity=1_000, restricted=100, reserved_for_sale=100))
    assert outcome(run(K.FORCED_SELL, a, quantity=quantity, symbol=STAR)) == expected


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        (699, None),
        (700, None),
        (701, C.SAME_DAY_COVER),
        (900, C.SAME_DAY_COVER),
        (901, C.COVER_EXCEEDS_SHORT),
    ],
)
def test_coverable_quantity(quantity: int, expected: OrderCode | None) -> None:
    """Short 1,000, of which 200 sold today and 100 held by an open cover."""
    a = account(
        positions=holding(
            STAR, short_quantity=1_000, short_opened_today=200, reserved_for_cover=100
        )
    )
    assert outcome(run(K.BUY_TO_COVER, a, quantity=quantity, symbol=STAR)) == expected


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [(199, None), (200, None), (201, C.SAME_DAY_COVER)],
)
def test_direct_return_quantity(quantity: int, expected: OrderCode | None) -> None:
    a = account(positions=holding(quantity=1_000, short_quantity=500, short_opened_today=300))
    r = request(N.DIRECT_RETURN, symbol=MAIN, quantity=quantity)
    assert outcome(check_nontrade(r, a, security(), firm())) == expected


@pytest.mark.parametrize(
    ("quantity", "expected"), [(299, None), (300, None), (301, C.INSUFFICIENT_POSITION)]
)
def test_transfer_out_quantity(quantity: int, expected: OrderCode | None) -> None:
    a = account(positions=holding(quantity=400, bought_today=100))
    r = request(N.TRANSFER_OUT, symbol=MAIN, quantity=quantity)
    assert outcome(check_nontrade(r, a, security(), firm())) == expected


# Lots (item 4)

BUYS = [K.COLLATERAL_BUY, K.MARGIN_BUY, K.SHORT_SELL]


@pytest.mark.parametrize("kind", BUYS)
@pytest.mark.parametrize(
    ("quantity", "ok"),
    [(99, False), (100, True), (101, False), (150, False), (200, True), (1_000, True)],
)
def test_main_board_lots(kind: OrderKind, quantity: int, ok: bool) -> None:
    result = run(kind, account(), quantity=quantity)
    assert (result is C.LOT_SIZE) is not ok


@pytest.mark.parametrize("kind", BUYS)
@pytest.mark.parametrize(
    ("quantity", "ok"), [(199, False), (200, True), (201, True), (202, True), (100, False)]
)
def test_star_lots(kind: OrderKind, quantity: int, ok: bool) -> None:
    result = run(kind, account(), quantity=quantity, symbol=STAR)
    assert (result is C.LOT_SIZE) is not ok


@pytest.mark.parametrize(("quantity", "ok"), [(9, False), (10, True), (11, False), (20, True)])
def test_bond_lots(quantity: int, ok: bool) -> None:
    s = security(BOND, tick_li=1, limit_up_li=0)
    result = run(K.COLLATERAL_BUY, account(), quantity=quantity, symbol=BOND, s=s, price_li=100_001)
    assert (result is C.LOT_SIZE) is not ok


@pytest.mark.parametrize(
    ("held", "quantity", "ok"),
    [
        (250, 50, True),  # the odd part alone
        (250, 150, True),  # a lot with the odd part
        (250, 250, True),  # everything
        (250, 100, True),  # whole lots
        (250, 120, False),
        (250, 30, False),
        (50, 50, True),  # a balance under one lot, sold in one go
        (50, 49, False),
    ],
)
def test_main_board_sale_lots(held: int, quantity: int, ok: bool) -> None:
    a = account(positions=holding(quantity=held))
    assert (run(K.COLLATERAL_SELL, a, quantity=quantity) is C.LOT_SIZE) is not ok


@pytest.mark.parametrize(
    ("held", "quantity", "ok"),
    [
        (150, 150, True),
        (150, 149, False),
        (350, 150, False),
        (350, 199, False),
        (350, 200, True),
        (350, 201, True),
    ],
)
def test_star_sale_lots(held: int, quantity: int, ok: bool) -> None:
    a = account(positions=holding(STAR, quantity=held))
    assert (run(K.COLLATERAL_SELL, a, quantity=quantity, symbol=STAR) is C.LOT_SIZE) is not ok


@pytest.mark.parametrize(("quantity", "ok"), [(99, False), (100, True), (101, False)])
def test_cover_lots(quantity: int, ok: bool) -> None:
    a = account(positions=holding(short_quantity=1_000))
    assert (run(K.BUY_TO_COVER, a, quantity=quantity) is C.LOT_SIZE) is not ok

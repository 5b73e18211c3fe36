"""Front-end checks (ORD-3, CLI-4): a counter-example for every code (GOV-5), the exact
reservation of an accepted order of every kind, and the documented precedence."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

import pytest

from liangrong.domain.fees import fee_reserve_fen
from liangrong.domain.firm_limits import (
    ClientExposure,
    FirmRoom,
    FirmUse,
    Indicator,
    SecurityExposure,
)
from liangrong.domain.money import trade_amount_fen
from liangrong.domain.order_codes import CHECKED_BY_BOOK, PRECEDENCE, OrderCode
from liangrong.domain.orders import (
    BANNED_FOR_CREDIT_ACCOUNTS,
    AccountType,
    BusinessType,
    NonTradeKind,
    Order,
    OrderKind,
    Side,
)
from liangrong.domain.pretrade import Reservation, check_nontrade, check_order
from liangrong.domain.pretrade_state import AccountState, AccountStatus, FirmState, SecurityState
from liangrong.domain.rejections import Rejection
from pretrade_helpers import (
    BIG,
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
    unlisted,
)
from test_firm_blocks import firm_room_of, stock_shares

K = OrderKind
N = NonTradeKind
C = OrderCode
I = Indicator  # noqa: E741
ALL_KINDS = list(OrderKind)
CLIENT_KINDS = [k for k in OrderKind if not k.is_forced]


def decide(
    o: Order,
    a: AccountState | None = None,
    s: SecurityState | str | None = "default",
    f: FirmState | None = None,
) -> OrderCode | Reservation:
    sec = security(o.symbol) if s == "default" else s
    assert not isinstance(sec, str)
    return check_order(o, a if a is not None else _ready_account(o), sec, f or firm(), FEES)


def _ready_account(o: Order) -> AccountState:
    """An account that can do ``o``: holds the shares, owes a short, has financing."""
    return account(
        positions=holding(o.symbol, quantity=10_000, short_quantity=5_000, value_li=10**8),
        has_open_financing=True,
    )


def buy_cost(quantity: int, price_li: int) -> int:
    return trade_amount_fen(quantity, price_li) + fee_reserve_fen(
        Side.BUY, quantity * price_li, FEES
    )


class Case(NamedTuple):
    code: OrderCode
    label: str
    run: Callable[[], OrderCode | Reservation]


def _case(code: OrderCode, label: str, run: Callable[[], OrderCode | Reservation]) -> Case:
    return Case(code, label, run)


CASES: list[Case] = [
    _case(
        C.UNKNOWN_ACCOUNT,
        "order",
        lambda: check_order(order(K.COLLATERAL_BUY), None, security(), firm(), FEES),
    ),
    _case(
        C.UNKNOWN_ACCOUNT,
        "nontrade",
        lambda: check_nontrade(request(N.CASH_DEPOSIT, amount_fen=100), None, None, firm()),
    ),
    # item 1: ordinary accounts send no credit orders, by the book's or the wire's account type
    *(
        _case(
            C.ORDINARY_ACCOUNT_CREDIT_FLAG,
            f"book-{k.value}",
            lambda k=k: decide(order(k), account(account_type=AccountType.ORDINARY)),
        )
        for k in ALL_KINDS
    ),
    _case(
        C.ORDINARY_ACCOUNT_CREDIT_FLAG,
        "wire",
        lambda: decide(order(K.COLLATERAL_BUY, account_type=AccountType.ORDINARY)),
    ),
    _case(
        C.ORDINARY_ACCOUNT_CREDIT_FLAG,
        "nontrade",
        lambda: check_nontrade(
            request(N.CASH_DEPOSIT, amount_fen=100),
            account(account_type=AccountType.ORDINARY),
            None,
            firm(),
        ),
    ),
    _case(C.CREDIT_FLAG_MISSING, "no-flag", lambda: decide(order(K.MARGIN_BUY, credit_flag=False))),
    _case(C.INVALID_ORDER, "zero-quantity", lambda: decide(order(K.COLLATERAL_BUY, quantity=0))),
    _case(C.INVALID_ORDER, "negative-quantity", lambda: decide(order(K.SHORT_SELL, quantity=-100))),
    _case(C.INVALID_ORDER, "zero-price", lambda: decide(order(K.MARGIN_BUY, price_li=0))),
    _case(C.INVALID_ORDER, "negative-price", lambda: decide(order(K.MARGIN_BUY, price_li=-10))),
    _case(C.INVALID_ORDER, "side", lambda: decide(order(K.MARGIN_BUY, side=Side.SELL))),
    _case(C.INVALID_ORDER, "side-cover", lambda: decide(order(K.BUY_TO_COVER, side=Side.SELL))),
    _case(C.INVALID_ORDER, "other-account", lambda: decide(order(K.MARGIN_BUY, account_id="X"))),
    _case(
        C.INVALID_ORDER,
        "nontrade-zero-amount",
        lambda: check_nontrade(request(N.CASH_WITHDRAWAL, amount_fen=0), account(), None, firm()),
    ),
    _case(
        C.INVALID_ORDER,
        "nontrade-zero-quantity",
        lambda: check_nontrade(
            request(N.TRANSFER_IN, symbol=MAIN, quantity=0), account(), security(), firm()
        ),
    ),
    # item 5: banned business types; a rights subscription must be a cash collateral buy
    *(
        _case(
            C.BUSINESS_NOT_ALLOWED,
            business.value,
            lambda business=business: decide(order(K.COLLATERAL_BUY, business=business)),
        )
        for business in sorted(BANNED_FOR_CREDIT_ACCOUNTS, key=lambda b: b.value)
    ),
    _case(
        C.BUSINESS_NOT_ALLOWED,
        "rights-on-margin",
        lambda: decide(order(K.MARGIN_BUY, business=BusinessType.RIGHTS_SUBSCRIPTION)),
    ),
    _case(C.UNKNOWN_SECURITY, "none", lambda: decide(order(K.COLLATERAL_BUY), s=None)),
    _case(
        C.UNKNOWN_SECURITY,
        "other-symbol",
        lambda: decide(order(K.COLLATERAL_BUY), s=security(STAR)),
    ),
    _case(
        C.UNKNOWN_SECURITY,
        "nontrade",
        lambda: check_nontrade(
            request(N.TRANSFER_IN, symbol=MAIN, quantity=100), account(), None, firm()
        ),
    ),
    # item 13 / RISK-6: below the liquidation line no buys, margin buys or shorts
    *(
        _case(
            C.ACCOUNT_CALL_RESTRICTED,
            k.value,
            lambda k=k: decide(order(k), account(status=AccountStatus.CALL_RESTRICTED)),
        )
        for k in (K.COLLATERAL_BUY, K.MARGIN_BUY, K.SHORT_SELL)
    ),
    _case(
        C.ACCOUNT_CALL_RESTRICTED,
        "rights",
        lambda: decide(
            order(K.COLLATERAL_BUY, business=BusinessType.RIGHTS_SUBSCRIPTION),
            account(status=AccountStatus.CALL_RESTRICTED),
        ),
    ),
    *(
        _case(
            C.ACCOUNT_CALL_RESTRICTED,
            kind.value,
            lambda kind=kind: check_nontrade(
                request(kind, amount_fen=100, symbol=MAIN, quantity=100),
                account(status=AccountStatus.CALL_RESTRICTED, positions=holding(quantity=1000)),
                security(),
                firm(),
            ),
        )
        for kind in (N.CASH_WITHDRAWAL, N.TRANSFER_OUT)
    ),
    # CLI-6: an identity document past its grace refuses new financing and shorts
    *(
        _case(
            C.IDENTITY_DOCUMENT_EXPIRED,
            k.value,
            lambda k=k: decide(order(k), account(new_debt_refused=True)),
        )
        for k in (K.MARGIN_BUY, K.SHORT_SELL)
    ),
    # in forced liquidation only the firm's orders and deposits of collateral
    *(
        _case(
            C.ACCOUNT_IN_LIQUIDATION,
            k.value,
            lambda k=k: decide(
                order(k),
                account(
                    status=AccountStatus.LIQUIDATION,
                    positions=holding(quantity=10_000, short_quantity=5_000),
                    has_open_financing=True,
                ),
            ),
        )
        for k in CLIENT_KINDS
    ),
    *(
        _case(
            C.ACCOUNT_IN_LIQUIDATION,
            kind.value,
            lambda kind=kind: check_nontrade(
                request(kind, amount_fen=100, symbol=MAIN, quantity=100),
                account(
                    status=AccountStatus.LIQUIDATION,
                    positions=holding(quantity=1000, short_quantity=1000),
                    has_open_financing=True,
                ),
                security(),
                firm(),
            ),
        )
        for kind in (N.CASH_WITHDRAWAL, N.TRANSFER_OUT, N.DIRECT_REPAYMENT, N.DIRECT_RETURN)
    ),
    *(
        _case(
            C.SECURITY_SUSPENDED, k.value, lambda k=k: decide(order(k), s=security(suspended=True))
        )
        for k in ALL_KINDS
    ),
    _case(C.PRICE_TICK, "stock", lambda: decide(order(K.COLLATERAL_BUY, price_li=LAST + 5))),
    _case(C.PRICE_TICK, "forced", lambda: decide(order(K.FORCED_SELL, price_li=LAST + 1))),
    _case(C.PRICE_OUTSIDE_LIMITS, "above", lambda: decide(order(K.MARGIN_BUY, price_li=11_010))),
    _case(C.PRICE_OUTSIDE_LIMITS, "below", lambda: decide(order(K.FORCED_SELL, price_li=8_990))),
    # item 2: buy and take in only collateral or targets
    _case(C.NOT_COLLATERAL_OR_TARGET, "buy", lambda: decide(order(K.COLLATERAL_BUY), s=unlisted())),
    _case(
        C.NOT_COLLATERAL_OR_TARGET,
        "transfer-in",
        lambda: check_nontrade(
            request(N.TRANSFER_IN, symbol=MAIN, quantity=100), account(), unlisted(), firm()
        ),
    ),
    # item 3: margin buys only financing targets, shorts only short targets
    _case(
        C.NOT_FINANCING_TARGET,
        "collateral-only",
        lambda: decide(order(K.MARGIN_BUY), s=security(financing_target=False)),
    ),
    _case(
        C.NOT_SHORT_TARGET,
        "financing-only",
        lambda: decide(order(K.SHORT_SELL), s=security(short_target=False)),
    ),
    # item 14 / REF-7: the exchange's halts
    _case(
        C.FINANCING_HALTED,
        "halt",
        lambda: decide(order(K.MARGIN_BUY), s=security(financing_halted=True)),
    ),
    _case(
        C.SHORT_HALTED, "halt", lambda: decide(order(K.SHORT_SELL), s=security(short_halted=True))
    ),
    # item 11 / CLI-4: insiders and lock-up holders
    *(
        _case(
            C.INSIDER_TRADING,
            k.value,
            lambda k=k: decide(order(k), account(insider_symbols=frozenset({MAIN}))),
        )
        for k in (K.MARGIN_BUY, K.SHORT_SELL)
    ),
    _case(
        C.LOCKUP_SHORT,
        "short",
        lambda: decide(order(K.SHORT_SELL), account(lockup_symbols=frozenset({MAIN}))),
    ),
    _case(
        C.NOTHING_TO_REPAY,
        "sell-to-repay",
        lambda: decide(order(K.SELL_TO_REPAY), account(positions=holding(quantity=1000))),
    ),
    _case(
        C.NOTHING_TO_REPAY,
        "direct-repayment",
        lambda: check_nontrade(
            request(N.DIRECT_REPAYMENT, amount_fen=100), account(), None, firm()
        ),
    ),
    *(
        _case(C.NOTHING_TO_COVER, k.value, lambda k=k: decide(order(k), account()))
        for k in (K.BUY_TO_COVER, K.FORCED_BUY)
    ),
    _case(
        C.NOTHING_TO_COVER,
        "direct-return",
        lambda: check_nontrade(
            request(N.DIRECT_RETURN, symbol=MAIN, quantity=100),
            account(positions=holding(quantity=1000)),
            security(),
            firm(),
        ),
    ),
    _case(
        C.COVER_EXCEEDS_SHORT,
        "more-than-owed",
        lambda: decide(order(K.BUY_TO_COVER, 600), account(positions=holding(short_quantity=500))),
    ),
    _case(
        C.COVER_EXCEEDS_SHORT,
        "held-by-open-cover",
        lambda: decide(
            order(K.BUY_TO_COVER, 500),
            account(positions=holding(short_quantity=500, reserved_for_cover=100)),
        ),
    ),
    # no same-day cover: shares sold short today return from T+1
    *(
        _case(
            C.SAME_DAY_COVER,
            k.value,
            lambda k=k: decide(
                order(k, 500),
                account(positions=holding(short_quantity=500, short_opened_today=500)),
            ),
        )
        for k in (K.BUY_TO_COVER, K.FORCED_BUY)
    ),
    _case(
        C.SAME_DAY_COVER,
        "direct-return",
        lambda: check_nontrade(
            request(N.DIRECT_RETURN, symbol=MAIN, quantity=300),
            account(positions=holding(quantity=1000, short_quantity=500, short_opened_today=300)),
            security(),
            firm(),
        ),
    ),
    # items 6 and 9: restricted shares are neither sold, returned, taken in nor moved out
    *(
        _case(
            C.RESTRICTED_SHARES,
            k.value,
            lambda k=k: decide(
                order(k, 1000),
                account(positions=holding(quantity=1000, restricted=100), has_open_financing=True),
            ),
        )
        for k in (K.COLLATERAL_SELL, K.SELL_TO_REPAY, K.FORCED_SELL)
    ),
    _case(
        C.RESTRICTED_SHARES,
        "direct-return",
        lambda: check_nontrade(
            request(N.DIRECT_RETURN, symbol=MAIN, quantity=500),
            account(positions=holding(quantity=500, short_quantity=500, restricted=500)),
            security(),
            firm(),
        ),
    ),
    _case(
        C.RESTRICTED_SHARES,
        "transfer-in",
        lambda: check_nontrade(
            request(N.TRANSFER_IN, symbol=MAIN, quantity=100),
            account(),
            security(),
            firm(),
            encumbered_in=True,
        ),
    ),
    _case(
        C.RESTRICTED_SHARES,
        "transfer-out",
        lambda: check_nontrade(
            request(N.TRANSFER_OUT, symbol=MAIN, quantity=1000),
            account(positions=holding(quantity=1000, restricted=1)),
            security(),
            firm(),
        ),
    ),
    _case(
        C.INSUFFICIENT_POSITION,
        "none-held",
        lambda: decide(order(K.COLLATERAL_SELL), account()),
    ),
    _case(
        C.INSUFFICIENT_POSITION,
        "bought-today",
        lambda: decide(
            order(K.COLLATERAL_SELL, 1000),
            account(positions=holding(quantity=1000, bought_today=100)),
        ),
    ),
    _case(
        C.INSUFFICIENT_POSITION,
        "reserved",
        lambda: decide(
            order(K.FORCED_SELL, 1000),
            account(positions=holding(quantity=1000, reserved_for_sale=100)),
        ),
    ),
    _case(
        C.INSUFFICIENT_POSITION,
        "transfer-out",
        lambda: check_nontrade(
            request(N.TRANSFER_OUT, symbol=MAIN, quantity=100), account(), security(), firm()
        ),
    ),
    _case(
        C.INSUFFICIENT_POSITION,
        "direct-return-bought-today",
        lambda: check_nontrade(
            request(N.DIRECT_RETURN, symbol=MAIN, quantity=500),
            account(positions=holding(quantity=500, short_quantity=500, bought_today=500)),
            security(),
            firm(),
        ),
    ),
    # item 4: lots
    *(
        _case(C.LOT_SIZE, f"{k.value}-150", lambda k=k: decide(order(k, 150)))
        for k in (K.COLLATERAL_BUY, K.MARGIN_BUY, K.SHORT_SELL, K.BUY_TO_COVER, K.FORCED_BUY)
    ),
    _case(C.LOT_SIZE, "star-199", lambda: decide(order(K.MARGIN_BUY, 199, symbol=STAR))),
    _case(
        C.LOT_SIZE,
        "odd-sale-not-the-odd-part",
        lambda: decide(order(K.COLLATERAL_SELL, 120), account(positions=holding(quantity=250))),
    ),
    # item 8: the short-sale price rule, and a sale of the same security while short
    _case(
        C.SHORT_PRICE_BELOW_LAST,
        "one-tick",
        lambda: decide(order(K.SHORT_SELL, price_li=LAST - TICK)),
    ),
    *(
        _case(
            C.SELL_PRICE_BELOW_LAST_WHILE_SHORT,
            k.value,
            lambda k=k: decide(
                order(k, 800, price_li=LAST - TICK),
                account(
                    positions=holding(quantity=1000, short_quantity=300), has_open_financing=True
                ),
            ),
        )
        for k in (K.COLLATERAL_SELL, K.SELL_TO_REPAY, K.FORCED_SELL)
    ),
    # item 10: concentration stops margin buys of the security
    _case(
        C.CONCENTRATION_LIMIT,
        "already-reached",
        lambda: decide(
            order(K.MARGIN_BUY, 100),
            account(
                positions=holding(quantity=3000, value_li=30_000_000),
                collateral_value_li=100_000_000,
                cash_free_fen=0,
                concentration_limit_bp=3_000,
            ),
        ),
    ),
    _case(
        C.CONCENTRATION_LIMIT,
        "carried-past",
        lambda: decide(
            order(K.MARGIN_BUY, 1000),
            account(collateral_value_li=9_000_000, cash_free_fen=0, concentration_limit_bp=5_000),
        ),
    ),
    # item 14: the client's credit limits
    _case(
        C.FINANCING_LIMIT,
        "margin-buy",
        lambda: decide(order(K.MARGIN_BUY), account(financing_limit_fen=1)),
    ),
    _case(C.SHORT_LIMIT, "short", lambda: decide(order(K.SHORT_SELL), account(short_limit_fen=1))),
    *(
        _case(C.TOTAL_LIMIT, k.value, lambda k=k: decide(order(k), account(total_limit_fen=1)))
        for k in (K.MARGIN_BUY, K.SHORT_SELL)
    ),
    # item 12: available margin
    *(
        _case(
            C.INSUFFICIENT_MARGIN,
            k.value,
            lambda k=k: decide(order(k), account(available_margin_li=0)),
        )
        for k in (K.MARGIN_BUY, K.SHORT_SELL)
    ),
    _case(
        C.INSUFFICIENT_MARGIN,
        "negative-available",
        lambda: decide(order(K.MARGIN_BUY), account(available_margin_li=-1)),
    ),
    # RISK-11: the firm-level limits.  One client: 5% of a net capital of 10,000,000 fen is
    # 500,000 fen, less than the 1,000,510 fen a margin buy of 1,000 at 10.00 finances.
    _case(
        C.FIRM_CLIENT_LIMIT,
        "margin-buy-past-the-cap",
        lambda: decide(
            order(K.MARGIN_BUY),
            f=firm(
                limits=firm_room_of(
                    {I.CLIENT_FINANCING_TO_NET_CAPITAL: Fraction(1, 20)}, net_capital_fen=10_000_000
                )
            ),
        ),
    ),
    _case(
        C.FIRM_CLIENT_LIMIT,
        "short-past-the-cap",
        lambda: decide(
            order(K.SHORT_SELL),
            f=firm(
                limits=firm_room_of(
                    {I.CLIENT_LENDING_TO_NET_CAPITAL: Fraction(1, 20)}, net_capital_fen=10_000_000
                )
            ),
        ),
    ),
    _case(
        C.FIRM_CLIENT_LIMIT,
        "client-at-the-cap-at-evaluation",
        lambda: decide(
            order(K.MARGIN_BUY, 100),
            f=firm(
                limits=firm_room_of(
                    {I.CLIENT_FINANCING_TO_NET_CAPITAL: Fraction(1, 20)},
                    net_capital_fen=100_000_000,
                    clients=[ClientExposure("C001", 5_000_000, 0)],
                )
            ),
        ),
    ),
    # One security: 5% of a float of 10,000 shares is 500 financed shares; 2% is 200 short.
    _case(
        C.FIRM_SECURITY_LIMIT,
        "financed-holdings-of-float",
        lambda: decide(
            order(K.MARGIN_BUY),
            f=firm(
                limits=firm_room_of(
                    {I.FINANCED_TO_FLOAT: Fraction(1, 20)}, shares=stock_shares(MAIN, float_=10_000)
                )
            ),
        ),
    ),
    _case(
        C.FIRM_SECURITY_LIMIT,
        "shorts-of-float",
        lambda: decide(
            order(K.SHORT_SELL),
            f=firm(
                limits=firm_room_of(
                    {I.SHORTS_TO_FLOAT: Fraction(1, 50)}, shares=stock_shares(MAIN, float_=10_000)
                )
            ),
        ),
    ),
    *(
        _case(
            C.FIRM_SECURITY_LIMIT,
            f"{k.value}-collateral-of-total",
            lambda k=k: decide(
                order(k),
                f=firm(
                    limits=firm_room_of(
                        {I.COLLATERAL_TO_TOTAL_SHARES: Fraction(1, 5)},
                        shares=stock_shares(MAIN, total=4_000),
                    )
                ),
            ),
        )
        for k in (K.COLLATERAL_BUY, K.MARGIN_BUY)
    ),
    _case(
        C.FIRM_SECURITY_LIMIT,
        "security-amount-of-net-capital",
        lambda: decide(
            order(K.SHORT_SELL),
            f=firm(
                limits=firm_room_of(
                    {I.SECURITY_TO_NET_CAPITAL: Fraction(1, 10)},
                    net_capital_fen=20_000_000,
                    securities=[SecurityExposure(MAIN, 1_500_000, 0, 0, 0, 0)],
                    shares=stock_shares(MAIN),
                )
            ),
        ),
    ),
    # The whole business: 4 × a net capital of 200,000 fen; 30% of 1,000,000 fen of lending.
    _case(
        C.FIRM_SCALE_LIMIT,
        "total-of-net-capital",
        lambda: decide(
            order(K.MARGIN_BUY),
            f=firm(
                limits=firm_room_of({I.TOTAL_TO_NET_CAPITAL: Fraction(4)}, net_capital_fen=200_000)
            ),
        ),
    ),
    _case(
        C.FIRM_SCALE_LIMIT,
        "lending-of-net-capital",
        lambda: decide(
            order(K.SHORT_SELL),
            f=firm(
                limits=firm_room_of(
                    {I.LENDING_TO_NET_CAPITAL: Fraction(3, 10)}, net_capital_fen=1_000_000
                )
            ),
        ),
    ),
    _case(
        C.FIRM_SCALE_LIMIT,
        "held-by-open-orders",
        lambda: decide(
            order(K.MARGIN_BUY), f=firm(limits=_room_held(FirmUse.margin_buy(STAR, 200, 9_000_000)))
        ),
    ),
    # item 7 / ACC-3: the pools are never over-lent
    _case(
        C.FINANCING_POOL_EXHAUSTED,
        "empty",
        lambda: decide(order(K.MARGIN_BUY), f=firm(financing_pool_available_fen=0)),
    ),
    _case(
        C.LENDING_POOL_EXHAUSTED,
        "no-inventory",
        lambda: decide(order(K.SHORT_SELL), f=firm(lending_pool_available={})),
    ),
    *(
        _case(
            C.WITHDRAWAL_LINE,
            kind.value,
            lambda kind=kind: check_nontrade(
                request(kind, amount_fen=100, symbol=MAIN, quantity=100),
                account(positions=holding(quantity=100)),
                security(),
                firm(),
                withdrawal_headroom_li=0,
            ),
        )
        for kind in (N.CASH_WITHDRAWAL, N.TRANSFER_OUT)
    ),
    _case(
        C.RIGHTS_SUBSCRIPTION_NEEDS_CASH,
        "locked-does-not-count",
        lambda: decide(
            order(K.COLLATERAL_BUY, business=BusinessType.RIGHTS_SUBSCRIPTION),
            account(cash_free_fen=0, cash_locked_fen=BIG),
            s=unlisted(),
        ),
    ),
    _case(
        C.INSUFFICIENT_CASH,
        "collateral-buy",
        lambda: decide(order(K.COLLATERAL_BUY), account(cash_free_fen=0)),
    ),
    _case(
        C.INSUFFICIENT_CASH,
        "cover",
        lambda: decide(
            order(K.BUY_TO_COVER), account(cash_free_fen=0, positions=holding(short_quantity=1000))
        ),
    ),
    _case(
        C.INSUFFICIENT_CASH,
        "forced-buy",
        lambda: decide(
            order(K.FORCED_BUY), account(cash_free_fen=0, positions=holding(short_quantity=1000))
        ),
    ),
    _case(
        C.INSUFFICIENT_CASH,
        "sale-below-minimum-commission",
        lambda: decide(
            order(K.COLLATERAL_SELL, 100, price_li=10, symbol=MAIN),
            account(cash_free_fen=0, positions=holding(quantity=100)),
            s=security(last_price_li=10, limit_up_li=0, limit_down_li=0),
        ),
    ),
    _case(
        C.INSUFFICIENT_CASH,
        "short-below-minimum-commission",
        lambda: decide(
            order(K.SHORT_SELL, 100, price_li=10),
            account(cash_free_fen=0),
            s=security(last_price_li=10, limit_up_li=0, limit_down_li=0),
        ),
    ),
    *(
        _case(
            C.INSUFFICIENT_CASH,
            kind.value,
            lambda kind=kind: check_nontrade(
                request(kind, amount_fen=101),
                account(cash_free_fen=100, has_open_financing=True),
                None,
                firm(),
            ),
        )
        for kind in (N.DIRECT_REPAYMENT, N.CASH_WITHDRAWAL)
    ),
]


def _room_held(use: FirmUse) -> FirmRoom:
    """10,000,000 fen of financing room, ``use`` held by an open order."""
    room = firm_room_of({I.FINANCING_TO_NET_CAPITAL: Fraction(1)}, net_capital_fen=10_000_000)
    room.hold(use)
    return room


@pytest.mark.parametrize("case", CASES, ids=[f"{c.code.name}-{c.label}" for c in CASES])
def test_counter_example(case: Case) -> None:
    """GOV-5: each control refuses what it must, with exactly its code."""
    assert case.run() is case.code


def test_every_code_has_a_counter_example() -> None:
    """Except the codes only the book can decide (it keeps the order registry)."""
    assert {c.code for c in CASES} == set(OrderCode) - CHECKED_BY_BOOK


def test_precedence_lists_every_code_once() -> None:
    assert len(PRECEDENCE) == len(set(PRECEDENCE)) == len(OrderCode)


def test_every_code_renders_in_both_languages() -> None:
    for code in OrderCode:
        rejection = Rejection(code)
        assert rejection.message_zh == code.zh and rejection.message_en == code.en
        assert code.zh and code.en.isascii()


def test_docs_table_names_every_code() -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "pretrade.md").read_text("utf-8")
    for code in OrderCode:
        assert f"`{code.name}`" in text, code.name


# Accepted orders: the exact reservation of each kind (1,000 shares at 10.00 CNY, FEES:
# value 10,000,000 li, amount 1,000,000 fen, commission 500 fen (the minimum), transfer fee
# 10 fen, stamp duty 500 fen on sales).
AMOUNT = 1_000_000
BUY_FEES = 510
SELL_FEES = 1_010


def test_fee_and_amount_assumptions() -> None:
    assert trade_amount_fen(1000, LAST) == AMOUNT
    assert fee_reserve_fen(Side.BUY, 1000 * LAST, FEES) == BUY_FEES
    assert fee_reserve_fen(Side.SELL, 1000 * LAST, FEES) == SELL_FEES
    assert buy_cost(1000, LAST) == AMOUNT + BUY_FEES


def test_collateral_buy_holds_cost_in_free_cash() -> None:
    assert decide(order(K.COLLATERAL_BUY), account()) == Reservation(cash_fen=AMOUNT + BUY_FEES)


@pytest.mark.parametrize(
    ("collateral", "financing", "short"),
    [(True, False, False), (False, True, False), (False, False, True)],
)
def test_collateral_buy_of_any_listed_security(
    collateral: bool, financing: bool, short: bool
) -> None:
    s = security(collateral=collateral, financing_target=financing, short_target=short)
    assert isinstance(decide(order(K.COLLATERAL_BUY), account(), s=s), Reservation)


def test_money_market_buy_uses_locked_proceeds_first() -> None:
    s = security(money_market=True)
    a = account(cash_free_fen=400_510, cash_locked_fen=600_000)
    assert decide(order(K.COLLATERAL_BUY), a, s=s) == Reservation(
        cash_fen=400_510, locked_cash_fen=600_000
    )
    a = account(cash_free_fen=0, cash_locked_fen=BIG)
    assert decide(order(K.COLLATERAL_BUY), a, s=s) == Reservation(locked_cash_fen=AMOUNT + BUY_FEES)


def test_ordinary_buy_cannot_use_locked_proceeds() -> None:
    a = account(cash_free_fen=AMOUNT + BUY_FEES - 1, cash_locked_fen=BIG)
    assert decide(order(K.COLLATERAL_BUY), a) is C.INSUFFICIENT_CASH


def test_margin_buy_finances_amount_and_fees() -> None:
    financing = AMOUNT + BUY_FEES
    assert decide(order(K.MARGIN_BUY), account()) == Reservation(
        margin_e4li=financing * 10 * 10_000, financing_fen=financing
    )


def test_margin_buy_uses_the_clients_override_ratio() -> None:
    a = account(margin_overrides_bp={(MAIN, K.MARGIN_BUY): 15_000, (MAIN, K.SHORT_SELL): 5})
    financing = AMOUNT + BUY_FEES
    assert decide(order(K.MARGIN_BUY), a) == Reservation(
        margin_e4li=financing * 10 * 15_000, financing_fen=financing
    )


def test_short_sell_holds_margin_limit_and_pool() -> None:
    assert decide(order(K.SHORT_SELL), account()) == Reservation(
        margin_e4li=AMOUNT * 10 * 10_000, short_value_fen=AMOUNT, pool_shares=1000
    )
    a = account(margin_overrides_bp={(MAIN, K.SHORT_SELL): 12_000})
    assert decide(order(K.SHORT_SELL), a) == Reservation(
        margin_e4li=AMOUNT * 10 * 12_000, short_value_fen=AMOUNT, pool_shares=1000
    )


def test_short_sell_fee_shortfall_is_paid_from_free_cash() -> None:
    s = security(last_price_li=10, limit_up_li=0, limit_down_li=0)
    # 100 shares at 0.01 CNY: 100 fen of proceeds, 500 + 1 + 0 fen of fees
    fees = fee_reserve_fen(Side.SELL, 1000, FEES)
    assert decide(order(K.SHORT_SELL, 100, price_li=10), account(), s=s) == Reservation(
        margin_e4li=100 * 10 * 10_000, cash_fen=fees - 100, short_value_fen=100, pool_shares=100
    )


@pytest.mark.parametrize("kind", [K.COLLATERAL_SELL, K.SELL_TO_REPAY, K.FORCED_SELL])
def test_sale_holds_the_shares(kind: OrderKind) -> None:
    a = account(positions=holding(quantity=1000), has_open_financing=True)
    assert decide(order(kind), a) == Reservation(sell_shares=1000)


@pytest.mark.parametrize("kind", [K.BUY_TO_COVER, K.FORCED_BUY])
def test_cover_pays_from_locked_proceeds_first(kind: OrderKind) -> None:
    a = account(positions=holding(short_quantity=1000), cash_locked_fen=300_000)
    assert decide(order(kind), a) == Reservation(
        cash_fen=AMOUNT + BUY_FEES - 300_000, locked_cash_fen=300_000, cover_shares=1000
    )
    a = account(positions=holding(short_quantity=1000), cash_free_fen=0, cash_locked_fen=BIG)
    assert decide(order(kind), a) == Reservation(
        locked_cash_fen=AMOUNT + BUY_FEES, cover_shares=1000
    )


def test_cover_of_older_short_while_short_again_today() -> None:
    a = account(positions=holding(short_quantity=1500, short_opened_today=500))
    assert isinstance(decide(order(K.BUY_TO_COVER, 1000), a), Reservation)
    assert decide(order(K.BUY_TO_COVER, 1100), a) is C.SAME_DAY_COVER


def test_cover_ignores_the_lists() -> None:
    """A contract opened before the security left the lists stays valid (REF-3)."""
    a = account(positions=holding(short_quantity=1000))
    assert isinstance(decide(order(K.BUY_TO_COVER), a, s=unlisted()), Reservation)


def test_rights_subscription_pays_amount_from_free_cash() -> None:
    o = order(K.COLLATERAL_BUY, 123, price_li=5_005, business=BusinessType.RIGHTS_SUBSCRIPTION)
    s = unlisted(tick_li=1, limit_up_li=1_000, limit_down_li=900)  # no list, lot or limit rule
    amount = trade_amount_fen(123, 5_005)
    assert decide(o, account(cash_free_fen=amount), s=s) == Reservation(cash_fen=amount)
    assert decide(o, account(cash_free_fen=amount - 1), s=s) is C.RIGHTS_SUBSCRIPTION_NEEDS_CASH


@pytest.mark.parametrize(
    "kind", [K.COLLATERAL_SELL, K.SELL_TO_REPAY, K.BUY_TO_COVER, K.FORCED_BUY, K.FORCED_SELL]
)
def test_call_restricted_account_may_reduce_exposure(kind: OrderKind) -> None:
    a = account(
        status=AccountStatus.CALL_RESTRICTED,
        positions=holding(quantity=1000, short_quantity=1000),
        has_open_financing=True,
    )
    assert isinstance(decide(order(kind), a), Reservation)


@pytest.mark.parametrize("kind", [K.FORCED_BUY, K.FORCED_SELL])
def test_forced_orders_bypass_status_limits_and_margin(kind: OrderKind) -> None:
    a = account(
        status=AccountStatus.LIQUIDATION,
        positions=holding(quantity=1000, short_quantity=1000),
        financing_limit_fen=0,
        short_limit_fen=0,
        total_limit_fen=0,
        available_margin_li=-BIG,
        insider_symbols=frozenset({MAIN}),
        lockup_symbols=frozenset({MAIN}),
        concentration_limit_bp=0,
    )
    f = firm(financing_pool_available_fen=0, lending_pool_available={})
    assert isinstance(decide(order(kind), a, s=unlisted(), f=f), Reservation)


def test_forced_sell_keeps_the_short_price_rule() -> None:
    a = account(positions=holding(quantity=1000, short_quantity=1000))
    assert (
        decide(order(K.FORCED_SELL, price_li=LAST - TICK), a) is C.SELL_PRICE_BELOW_LAST_WHILE_SHORT
    )


def test_insider_may_trade_collateral_and_lockup_holder_may_buy_on_margin() -> None:
    a = account(
        positions=holding(quantity=1000),
        insider_symbols=frozenset({MAIN}),
        lockup_symbols=frozenset({STAR}),
    )
    assert isinstance(decide(order(K.COLLATERAL_BUY), a), Reservation)
    assert isinstance(decide(order(K.COLLATERAL_SELL), a), Reservation)
    assert isinstance(decide(order(K.MARGIN_BUY, 200, symbol=STAR), a), Reservation)
    assert decide(order(K.SHORT_SELL, 200, symbol=STAR), a) is C.LOCKUP_SHORT


def test_insider_of_another_company_is_not_refused() -> None:
    a = account(insider_symbols=frozenset({STAR}))
    assert isinstance(decide(order(K.MARGIN_BUY), a), Reservation)
    assert isinstance(decide(order(K.SHORT_SELL), a), Reservation)


def test_no_price_limit_when_limit_up_is_zero() -> None:
    s = security(limit_up_li=0, limit_down_li=0)
    assert isinstance(decide(order(K.COLLATERAL_BUY, price_li=50_000), account(), s=s), Reservation)


# Non-trade requests accepted


def test_nontrade_accepted() -> None:
    a = account(
        positions=holding(quantity=1000, short_quantity=500),
        has_open_financing=True,
        cash_free_fen=1000,
    )
    s, f = security(), firm()
    assert check_nontrade(request(N.CASH_DEPOSIT, amount_fen=1), a, None, f) == Reservation()
    assert check_nontrade(request(N.CASH_WITHDRAWAL, amount_fen=1000), a, None, f) == Reservation(
        cash_fen=1000
    )
    assert check_nontrade(request(N.DIRECT_REPAYMENT, amount_fen=1000), a, None, f) == Reservation(
        cash_fen=1000
    )
    transfer_in = request(N.TRANSFER_IN, symbol=MAIN, quantity=100)
    assert check_nontrade(transfer_in, a, s, f) == Reservation()
    transfer_out = request(N.TRANSFER_OUT, symbol=MAIN, quantity=1000)
    assert check_nontrade(transfer_out, a, s, f) == Reservation(sell_shares=1000)
    direct_return = request(N.DIRECT_RETURN, symbol=MAIN, quantity=500)
    assert check_nontrade(direct_return, a, s, f) == Reservation(sell_shares=500, cover_shares=500)


@pytest.mark.parametrize("kind", [N.CASH_DEPOSIT, N.TRANSFER_IN])
def test_liquidation_still_takes_collateral_in(kind: NonTradeKind) -> None:
    a = account(status=AccountStatus.LIQUIDATION)
    r = request(kind, amount_fen=100, symbol=MAIN, quantity=100)
    assert check_nontrade(r, a, security(), firm()) == Reservation()


@pytest.mark.parametrize(
    "kind", [N.CASH_DEPOSIT, N.TRANSFER_IN, N.DIRECT_REPAYMENT, N.DIRECT_RETURN]
)
def test_call_restricted_may_repay_and_add(kind: NonTradeKind) -> None:
    a = account(
        status=AccountStatus.CALL_RESTRICTED,
        positions=holding(quantity=1000, short_quantity=500),
        has_open_financing=True,
    )
    r = request(kind, amount_fen=100, symbol=MAIN, quantity=100)
    assert isinstance(check_nontrade(r, a, security(), firm()), Reservation)


def test_transfer_out_of_a_suspended_security_is_not_an_exchange_order() -> None:
    a = account(positions=holding(quantity=1000))
    r = request(N.TRANSFER_OUT, symbol=MAIN, quantity=1000)
    assert check_nontrade(r, a, security(suspended=True), firm()) == Reservation(sell_shares=1000)


@pytest.mark.parametrize("kind", [N.DIRECT_REPAYMENT, N.DIRECT_RETURN])
def test_the_firms_forced_repayment_passes_the_liquidation_status(kind: NonTradeKind) -> None:
    """S1 art. 64: in forced liquidation the firm repays from the account itself; the
    client's own request of the same kind stays refused (the counter-examples above)."""
    state = account(
        status=AccountStatus.LIQUIDATION,
        positions=holding(quantity=1000, short_quantity=1000),
        has_open_financing=True,
    )
    forced = request(kind, amount_fen=100, symbol=MAIN, quantity=100, forced=True)
    result = check_nontrade(forced, state, security(), firm())
    assert isinstance(result, Reservation)
    own = request(kind, amount_fen=100, symbol=MAIN, quantity=100)
    assert check_nontrade(own, state, security(), firm()) is C.ACCOUNT_IN_LIQUIDATION


def test_forced_applies_only_to_repayments_and_returns() -> None:
    state = account(status=AccountStatus.LIQUIDATION, has_open_financing=True)
    withdrawal = request(N.CASH_WITHDRAWAL, amount_fen=100, forced=True)
    assert check_nontrade(withdrawal, state, security(), firm()) is C.ACCOUNT_IN_LIQUIDATION

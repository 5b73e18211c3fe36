"""A scripted two-day replay for two clients: the exact journal of every kind of order and
non-trade operation (ORD-1 … ORD-6, ACC-6), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from book_helpers import DAY1, DAY2, fund_firm, journal_of, open_book, order, profile
from liangrong.domain.order_codes import OrderCode
from liangrong.domain.orders import NonTradeKind, NonTradeRequest, OrderKind, Side
from liangrong.domain.settlement import Fill
from liangrong.ledger.journal import Ledger
from liangrong.ledger.projections import conservation_breaks, rebuild

A, B = "CA", "CB"
CASH_A, CASH_B = "firm:collateral_cash:CA", "firm:collateral_cash:CB"
LOCKED_B = "firm:collateral_cash:CB:locked"
SEC_A_SH, SEC_A_SZ = "firm:collateral_securities:CA:SH", "firm:collateral_securities:CA:SZ"
SEC_B_SH = "firm:collateral_securities:CB:SH"
POOL, LENDING = "firm:financing_pool", "firm:lending_pool"
MARKET, FEES, LEVIES = "external:market", "firm:income:fees", "external:tax_and_levies"
RECV_F, RECV_L = "firm:receivable:financing", "firm:receivable:lending"
S, C, T, D = "settlement", "collect_debt", "collateral_transfer_in", "deposit"
PROFILES = [profile(A, "张三"), profile(B, "李四")]


def fill(
    trade: str, order_id: str, symbol: str, side: Side, price_li: int, qty: int, on=DAY1
) -> Fill:
    return Fill(trade, order_id, symbol, side, price_li, qty, on)


@pytest.fixture
def day_one(store: Engine, fixed_clock):
    ledger = Ledger(store, fixed_clock)
    fund_firm(ledger)
    for client, name in ((A, "张三"), (B, "李四")):
        for exchange in ("SH", "SZ"):
            ledger.open_credit_account(
                f"open-{client}-{exchange}", client, exchange, name, name, DAY1
            )
    return open_book(store, fixed_clock, DAY1, PROFILES)


def test_a_trading_day_posts_exactly_these_journals(store: Engine, fixed_clock, day_one) -> None:
    book = day_one
    req = NonTradeRequest
    assert book.request(req("r1", A, NonTradeKind.CASH_DEPOSIT, amount_fen=100_000_000)).accepted
    assert journal_of(store, "request:r1") == [
        (D, "external:bank:CA", "CNY", -100_000_000),
        (D, CASH_A, "CNY", 100_000_000),
    ]
    assert book.request(
        req("r2", A, NonTradeKind.TRANSFER_IN, symbol="600000.SH", quantity=20_000)
    ).accepted
    assert journal_of(store, "request:r2") == [
        (T, "external:ordinary:CA:SH", "600000.SH", -20_000),
        (T, SEC_A_SH, "600000.SH", 20_000),
    ]

    # Collateral buy: 10,000 x 12.000 = 120,000.00; commission 30.00, transfer fee 1.20.
    assert book.submit(
        order("o1", A, OrderKind.COLLATERAL_BUY, "000001.SZ", 12_000, 10_000)
    ).accepted
    assert book.on_fill(fill("T1", "o1", "000001.SZ", Side.BUY, 12_000, 10_000))
    assert journal_of(store, "fill:T1") == [
        (S, CASH_A, "CNY", -12_003_120),
        (S, MARKET, "CNY", 12_000_000),
        (S, FEES, "CNY", 3_000),
        (S, LEVIES, "CNY", 120),
        (S, MARKET, "000001.SZ", -10_000),
        (S, SEC_A_SZ, "000001.SZ", 10_000),
    ]

    # Margin buy in two fills; each opens its own contract, fees financed, increments of the
    # order's cumulative fees (the second fill pays 30.01 commission + 1.20 transfer fee).
    assert book.submit(order("o2", A, OrderKind.MARGIN_BUY, "600036.SH", 30_010, 10_000)).accepted
    assert book.on_fill(fill("T2", "o2", "600036.SH", Side.BUY, 30_000, 6_000))
    assert book.on_fill(fill("T3", "o2", "600036.SH", Side.BUY, 30_010, 4_000))
    assert journal_of(store, "fill:T2") == [
        (S, POOL, "CNY", -18_004_680),
        (S, MARKET, "CNY", 18_000_000),
        (S, "client:CA:financing:FT2", "CNY", -18_004_680),
        (S, RECV_F, "CNY", 18_004_680),
        (S, MARKET, "600036.SH", -6_000),
        (S, SEC_A_SH, "600036.SH", 6_000),
        (S, FEES, "CNY", 4_500),
        (S, LEVIES, "CNY", 180),
    ]
    assert journal_of(store, "fill:T3")[0] == (S, POOL, "CNY", -(12_004_000 + 3_001 + 120))
    assert book.orders["o2"].held.financing_fen == 0  # fully filled: nothing left held

    # Short sale at the last price; proceeds locked, the sale's fees paid from them.
    assert book.request(req("r3", B, NonTradeKind.CASH_DEPOSIT, amount_fen=20_000_000)).accepted
    assert book.submit(order("o3", B, OrderKind.SHORT_SELL, "600036.SH", 30_000, 1_000)).accepted
    assert book.on_fill(fill("T4", "o3", "600036.SH", Side.SELL, 30_000, 1_000))
    assert journal_of(store, "fill:T4") == [
        (S, LENDING, "600036.SH", -1_000),
        (S, MARKET, "600036.SH", 1_000),
        (S, "client:CB:short:ST4", "600036.SH", -1_000),
        (S, RECV_L, "600036.SH", 1_000),
        (S, MARKET, "CNY", -3_000_000),
        (S, LOCKED_B, "CNY", 3_000_000),
        (S, LOCKED_B, "CNY", -2_280),
        (S, FEES, "CNY", 750),
        (S, LEVIES, "CNY", 1_530),
    ]
    cover_today = book.submit(order("o4", B, OrderKind.BUY_TO_COVER, "600036.SH", 30_000, 1_000))
    assert cover_today.code is OrderCode.SAME_DAY_COVER

    # A sale of collateral not bought on margin keeps its proceeds, financing or not.
    assert book.submit(
        order("o5", A, OrderKind.COLLATERAL_SELL, "600000.SH", 10_000, 5_000)
    ).accepted
    assert book.on_fill(fill("T5", "o5", "600000.SH", Side.SELL, 10_000, 5_000))
    assert journal_of(store, "fill:T5") == [
        (S, SEC_A_SH, "600000.SH", -5_000),
        (S, MARKET, "600000.SH", 5_000),
        (S, MARKET, "CNY", -5_000_000),
        (S, CASH_A, "CNY", 4_996_200),
        (S, FEES, "CNY", 1_250),
        (S, LEVIES, "CNY", 2_550),
    ]
    # Bought today: not sellable before T+1.
    t_plus_one = book.submit(order("o6", A, OrderKind.COLLATERAL_SELL, "600036.SH", 30_000, 100))
    assert t_plus_one.code is OrderCode.INSUFFICIENT_POSITION
    # A duplicate fill report changes nothing.
    assert not book.on_fill(fill("T5", "o5", "600000.SH", Side.SELL, 10_000, 5_000))
    book.expire_open_orders()

    # ---- day two: T+1 sales repay financing first; covers use locked proceeds -----------
    book = open_book(store, fixed_clock, DAY2, PROFILES)
    assert book.submit(
        order("p1", A, OrderKind.COLLATERAL_SELL, "600036.SH", 31_000, 2_000)
    ).accepted
    assert book.on_fill(fill("T6", "p1", "600036.SH", Side.SELL, 31_000, 2_000, DAY2))
    net = 6_200_000 - (1_550 + 3_100 + 62)
    assert journal_of(store, "fill:T6") == [
        (S, SEC_A_SH, "600036.SH", -2_000),
        (S, MARKET, "600036.SH", 2_000),
        (S, MARKET, "CNY", -6_200_000),
        (S, CASH_A, "CNY", net),
        (S, FEES, "CNY", 1_550),
        (S, LEVIES, "CNY", 3_162),
        (C, CASH_A, "CNY", -net),
        (C, POOL, "CNY", net),
        (C, "client:CA:financing:FT2", "CNY", net),
        (C, RECV_F, "CNY", -net),
    ]
    # Sell to repay: proceeds repay financing even for collateral not bought on margin.
    assert book.submit(order("p2", A, OrderKind.SELL_TO_REPAY, "000001.SZ", 12_000, 2_000)).accepted
    assert book.on_fill(fill("T7", "p2", "000001.SZ", Side.SELL, 12_000, 2_000, DAY2))
    repaid = 2_400_000 - (600 + 1_200 + 24)
    assert journal_of(store, "fill:T7")[-4:] == [
        (C, CASH_A, "CNY", -repaid),
        (C, POOL, "CNY", repaid),
        (C, "client:CA:financing:FT2", "CNY", repaid),
        (C, RECV_F, "CNY", -repaid),
    ]
    # Buy to cover from locked proceeds, shares back to the pool, the rest released.
    assert book.submit(order("p3", B, OrderKind.BUY_TO_COVER, "600036.SH", 29_000, 1_000)).accepted
    assert book.on_fill(fill("T8", "p3", "600036.SH", Side.BUY, 29_000, 1_000, DAY2))
    assert journal_of(store, "fill:T8") == [
        (S, LOCKED_B, "CNY", -2_900_754),
        (S, MARKET, "CNY", 2_900_000),
        (S, FEES, "CNY", 725),
        (S, LEVIES, "CNY", 29),
        (S, MARKET, "600036.SH", -1_000),
        (S, SEC_B_SH, "600036.SH", 1_000),
        (C, SEC_B_SH, "600036.SH", -1_000),
        (C, LENDING, "600036.SH", 1_000),
        (C, "client:CB:short:ST4", "600036.SH", 1_000),
        (C, RECV_L, "600036.SH", -1_000),
    ]
    left = 3_000_000 - 2_280 - 2_900_754
    assert journal_of(store, "release:T8") == [
        ("lock_release", LOCKED_B, "CNY", -left),
        ("lock_release", CASH_B, "CNY", left),
    ]
    # Direct repayment: nearest maturity first (FT2 before FT3: same day, id order).
    assert book.request(req("r4", A, NonTradeKind.DIRECT_REPAYMENT, amount_fen=1_000_000)).accepted
    assert journal_of(store, "request:r4") == [
        (C, CASH_A, "CNY", -1_000_000),
        (C, POOL, "CNY", 1_000_000),
        (C, "client:CA:financing:FT2", "CNY", 1_000_000),
        (C, RECV_F, "CNY", -1_000_000),
    ]
    # Withdrawal above the 300% line is refused; within it, paid to the bank.
    too_much = book.request(req("r5", A, NonTradeKind.CASH_WITHDRAWAL, amount_fen=90_000_000))
    assert too_much.code is OrderCode.WITHDRAWAL_LINE
    assert book.request(req("r6", A, NonTradeKind.CASH_WITHDRAWAL, amount_fen=1_000_000)).accepted
    assert journal_of(store, "request:r6") == [
        ("withdraw_surplus", CASH_A, "CNY", -1_000_000),
        ("withdraw_surplus", "external:bank:CA", "CNY", 1_000_000),
    ]
    assert book.request(
        req("r7", A, NonTradeKind.TRANSFER_OUT, symbol="600000.SH", quantity=1_000)
    ).accepted
    assert journal_of(store, "request:r7") == [
        ("withdraw_surplus", SEC_A_SH, "600000.SH", -1_000),
        ("withdraw_surplus", "external:ordinary:CA:SH", "600000.SH", 1_000),
    ]
    assert conservation_breaks(store) == {}
    assert rebuild(store).identical

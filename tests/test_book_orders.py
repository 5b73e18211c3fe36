"""The book's own duties around the checks: order ids, holds and their release, forced
orders, direct return, money-market purchases from locked proceeds, pools across orders."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from book_helpers import DAY1, DAY2, journal_of, open_book, order, profile
from liangrong.book.loader import load_mirrors
from liangrong.domain import operations as ops
from liangrong.domain.order_codes import OrderCode
from liangrong.domain.orders import NonTradeKind, NonTradeRequest, OrderKind, Side
from liangrong.domain.settlement import Fill
from liangrong.ledger.journal import Ledger

A = "CA"


@pytest.fixture
def ledger(store: Engine, fixed_clock) -> Ledger:
    book_ledger = Ledger(store, fixed_clock)
    book_ledger.post(ops.fund_pool("fund-cash", DAY1, "CNY", 1_000_000_00))
    book_ledger.post(ops.fund_pool("fund-600036", DAY1, "600036.SH", 10_000))
    for exchange in ("SH", "SZ"):
        book_ledger.open_credit_account(f"open-{exchange}", A, exchange, "张三", "张三", DAY1)
    book_ledger.post(ops.deposit_cash("dep", DAY1, A, 2_000_000_00))
    book_ledger.post(ops.transfer_collateral_in("tin", DAY1, A, "600000.SH", 50_000))
    return book_ledger


def day(store: Engine, clock, on=DAY1, **limits: int):
    return open_book(store, clock, on, [profile(A, **limits)])


def test_order_ids_are_unique_and_unknown_accounts_refused(store, fixed_clock, ledger) -> None:
    book = day(store, fixed_clock)
    assert book.submit(order("o1", A, OrderKind.COLLATERAL_BUY, "000001.SZ", 12_000, 100)).accepted
    again = book.submit(order("o1", A, OrderKind.COLLATERAL_BUY, "000001.SZ", 12_000, 100))
    assert again.code is OrderCode.DUPLICATE_ORDER_ID
    stranger = book.submit(
        order("o2", "NOBODY", OrderKind.COLLATERAL_BUY, "000001.SZ", 12_000, 100)
    )
    assert stranger.code is OrderCode.UNKNOWN_ACCOUNT


def test_a_replayed_request_is_done_once_in_the_ledger_and_the_book(
    store, fixed_clock, ledger
) -> None:
    """A retried request (same id, same payload): the ledger ignores the replay, and the
    book must not learn it a second time either."""
    book = day(store, fixed_clock)
    deposit = NonTradeRequest("r-dep", A, NonTradeKind.CASH_DEPOSIT, amount_fen=12_345)
    cash = book.mirrors[A].cash_fen
    assert book.request(deposit).accepted
    assert book.request(deposit).accepted  # the retry: done already
    assert book.mirrors[A].cash_fen == cash + 12_345
    assert load_mirrors(store, [A])[A].cash_fen == cash + 12_345


def test_cancel_and_exchange_rejection_release_everything(store, fixed_clock, ledger) -> None:
    book = day(store, fixed_clock)
    before = book.states[A]
    cash, margin, pool = (
        before.cash_free_fen,
        before.reserved_margin_e4li,
        book.firm.financing_pool_available_fen,
    )
    assert book.submit(
        order("b1", A, OrderKind.COLLATERAL_BUY, "000001.SZ", 12_000, 1_000)
    ).accepted
    assert book.submit(order("m1", A, OrderKind.MARGIN_BUY, "600036.SH", 30_000, 1_000)).accepted
    assert book.states[A].cash_free_fen < cash and book.firm.financing_pool_available_fen < pool
    assert book.cancel("b1") and book.exchange_rejected("m1")
    after = book.states[A]
    assert (after.cash_free_fen, after.reserved_margin_e4li) == (cash, margin)
    assert book.firm.financing_pool_available_fen == pool
    assert not book.cancel("b1")  # already closed


def test_two_orders_cannot_together_over_lend_the_pool(store, fixed_clock, ledger) -> None:
    book = day(store, fixed_clock)
    # 600,000.00 each (plus fees) against a 1,000,000.00 pool: the second must wait.
    assert book.submit(order("m1", A, OrderKind.MARGIN_BUY, "600036.SH", 30_000, 20_000)).accepted
    second = book.submit(order("m2", A, OrderKind.MARGIN_BUY, "600036.SH", 30_000, 20_000))
    assert second.code is OrderCode.FINANCING_POOL_EXHAUSTED
    book.cancel("m1")
    assert book.submit(order("m3", A, OrderKind.MARGIN_BUY, "600036.SH", 30_000, 20_000)).accepted


def test_a_fill_larger_than_the_order_is_an_error(store, fixed_clock, ledger) -> None:
    book = day(store, fixed_clock)
    assert book.submit(order("b1", A, OrderKind.COLLATERAL_BUY, "000001.SZ", 12_000, 100)).accepted
    with pytest.raises(ValueError, match="exceeds"):
        book.on_fill(Fill("T1", "b1", "000001.SZ", Side.BUY, 12_000, 200, DAY1))


def test_forced_sell_disposes_collateral_and_repays_financing(store, fixed_clock, ledger) -> None:
    book = day(store, fixed_clock)
    assert book.submit(order("m1", A, OrderKind.MARGIN_BUY, "600036.SH", 30_000, 1_000)).accepted
    book.on_fill(Fill("T1", "m1", "600036.SH", Side.BUY, 30_000, 1_000, DAY1))
    book = day(store, fixed_clock, DAY2)
    assert book.submit(order("f1", A, OrderKind.FORCED_SELL, "600000.SH", 10_000, 1_000)).accepted
    book.on_fill(Fill("T2", "f1", "600000.SH", Side.SELL, 10_000, 1_000, DAY2))
    purposes = [row[0] for row in journal_of(store, "fill:T2")]
    assert purposes[:5] == ["dispose_collateral"] * 5
    assert purposes[-4:] == ["collect_debt"] * 4  # proceeds repay the financing


def test_forced_buy_covers_a_short_and_direct_return_repays_shares(
    store, fixed_clock, ledger
) -> None:
    book = day(store, fixed_clock)
    assert book.submit(order("s1", A, OrderKind.SHORT_SELL, "600036.SH", 30_000, 2_000)).accepted
    book.on_fill(Fill("T1", "s1", "600036.SH", Side.SELL, 30_000, 2_000, DAY1))
    Ledger(store, fixed_clock).post(ops.transfer_collateral_in("tin2", DAY1, A, "600036.SH", 1_000))
    book = day(store, fixed_clock, DAY2)
    assert book.submit(order("f1", A, OrderKind.FORCED_BUY, "600036.SH", 30_000, 1_000)).accepted
    book.on_fill(Fill("T2", "f1", "600036.SH", Side.BUY, 30_000, 1_000, DAY2))
    assert journal_of(store, "fill:T2")[0][0] == "dispose_collateral"
    assert journal_of(store, "fill:T2")[-1] == (
        "collect_debt",
        "firm:receivable:lending",
        "600036.SH",
        -1_000,
    )
    returned = book.request(
        NonTradeRequest("r1", A, NonTradeKind.DIRECT_RETURN, symbol="600036.SH", quantity=1_000)
    )
    assert returned.accepted
    assert journal_of(store, "request:r1") == [
        ("collect_debt", "firm:collateral_securities:CA:SH", "600036.SH", -1_000),
        ("collect_debt", "firm:lending_pool", "600036.SH", 1_000),
        ("collect_debt", "client:CA:short:ST1", "600036.SH", 1_000),
        ("collect_debt", "firm:receivable:lending", "600036.SH", -1_000),
    ]
    assert not [c for c in book.mirrors[A].contracts.values() if c.is_open]
    assert book.mirrors[A].locked_fen == 0  # released once the last short closed


def test_locked_proceeds_may_buy_a_money_market_fund(store, fixed_clock, ledger) -> None:
    book = day(store, fixed_clock)
    assert book.submit(order("s1", A, OrderKind.SHORT_SELL, "600036.SH", 30_000, 1_000)).accepted
    book.on_fill(Fill("T1", "s1", "600036.SH", Side.SELL, 30_000, 1_000, DAY1))
    assert book.submit(order("mm", A, OrderKind.COLLATERAL_BUY, "511880.SH", 100_000, 200)).accepted
    book.on_fill(Fill("T2", "mm", "511880.SH", Side.BUY, 100_000, 200, DAY1))
    first = journal_of(store, "fill:T2")[0]
    assert first[:3] == ("settlement", "firm:collateral_cash:CA:locked", "CNY")

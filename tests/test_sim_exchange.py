"""The simulated exchange: refusals by code, fills against snapshots, partial fills, cancels."""

from __future__ import annotations

import random
from datetime import date, time

import numpy as np
import pytest

from liangrong.domain.calendar import TradingCalendar
from liangrong.domain.orders import AccountType, Order, OrderKind, Side
from liangrong.domain.securities import Board, Exchange, Kind, Security, Status
from liangrong.sim.calendar_data import load_shipped_calendar
from liangrong.sim.exchange import (
    Accepted,
    Cancelled,
    CancelReason,
    Event,
    ExchangeRejectCode,
    Fill,
    Rejected,
    SimulatedExchange,
)
from liangrong.sim.prices import SNAPSHOTS_PER_DAY, PriceSimulator, Snapshot, TradingDay
from liangrong.sim.universe import load_demo_universe

START = date(2025, 1, 2)
MAIN, STAR, HALTED, BOND, ST = "600000.SH", "688001.SH", "600001.SH", "019547.SH", "000002.SZ"


def _security(code: str, exchange: Exchange, board: Board, kind: Kind, status: Status) -> Security:
    return Security(code, exchange, "测试", board, kind, 10**9, 10**9, date(2010, 1, 4), False,
                    status, False)  # fmt: skip


SECURITIES = (
    _security("600000", Exchange.SH, Board.SSE_MAIN, Kind.STOCK, Status.NORMAL),
    _security("688001", Exchange.SH, Board.STAR, Kind.STOCK, Status.NORMAL),
    _security("600001", Exchange.SH, Board.SSE_MAIN, Kind.STOCK, Status.SUSPENDED),
    _security("019547", Exchange.SH, Board.NONE, Kind.GOVERNMENT_BOND, Status.NORMAL),
    _security("000002", Exchange.SZ, Board.SZSE_MAIN, Kind.STOCK, Status.RISK_WARNING),
)
PREV = {MAIN: 10_000, STAR: 50_000, HALTED: 8_000, BOND: 100_000, ST: 2_000}


@pytest.fixture(scope="module")
def calendar() -> TradingCalendar:
    return load_shipped_calendar()


class Market:
    """A tiny simulator for limits, and hand-made snapshots for exact prices and volumes."""

    def __init__(self, calendar: TradingCalendar, participation_bps: int = 2_500) -> None:
        self.sim = PriceSimulator(SECURITIES, PREV, seed=1, calendar=calendar, start=START,
                                  index_returns=[0.0])  # fmt: skip
        self.exchange = SimulatedExchange(self.sim.table, participation_bps)
        self.day: TradingDay = self.sim.open_day()
        self.exchange.open_day(self.day)
        self.seq = -1

    def snapshot(self, volume: int = 400_000, **last: int) -> list[Event]:
        """Next snapshot: ``last`` by symbol key (MAIN=...), others at the previous close."""
        self.seq += 1
        n = len(SECURITIES)
        prices = self.day.prev_close_li.copy()
        for symbol, price in last.items():
            prices[self.sim.index[globals()[symbol]]] = price
        tick, up, down = self.sim.tick_li, self.day.limit_up_li, self.day.limit_down_li
        bid = np.where(prices >= up, up, prices - tick)
        ask = np.where(prices <= down, down, prices + tick)
        bid[prices <= down] = 0
        ask[prices >= up] = 0
        vol = np.full(n, volume, dtype=np.int64)
        snap = Snapshot(self.day.day, self.seq, prices, bid, ask, vol)
        return self.exchange.on_snapshot(snap)

    def next_day(self) -> list[Event]:
        expired = self.exchange.close_day()
        self.sim.close_day()
        self.day = self.sim.open_day()
        self.exchange.open_day(self.day)
        self.seq = -1
        return expired


def fills(events: list[Event]) -> list[tuple[str, int, int]]:
    return [(e.order_id, e.price_li, e.quantity) for e in events if isinstance(e, Fill)]


def code_of(events: list[Event]) -> ExchangeRejectCode:
    assert len(events) == 1 and isinstance(events[0], Rejected), events
    return events[0].code


# --- refusals ------------------------------------------------------------------------------


def test_each_refusal_code(calendar: TradingCalendar) -> None:
    sim = PriceSimulator(SECURITIES, PREV, seed=1, calendar=calendar, start=START,
                         index_returns=[0.0])  # fmt: skip
    exchange = SimulatedExchange(sim.table)
    closed = exchange.submit("o0", MAIN, Side.BUY, 10_000, 100)
    assert code_of(closed) is ExchangeRejectCode.MARKET_CLOSED
    day = sim.open_day()
    exchange.open_day(day)
    assert (int(day.limit_up_li[0]), int(day.limit_down_li[0])) == (11_000, 9_000)
    assert (int(day.limit_up_li[4]), int(day.limit_down_li[4])) == (2_100, 1_900)  # ST: ±5%
    cases = [
        ("a1", MAIN, Side.BUY, 10_000, 100, None),
        ("a1", MAIN, Side.BUY, 10_000, 100, ExchangeRejectCode.DUPLICATE_ORDER_ID),
        ("a2", "999999.SH", Side.BUY, 10_000, 100, ExchangeRejectCode.UNKNOWN_SECURITY),
        ("a3", HALTED, Side.SELL, 8_000, 100, ExchangeRejectCode.SUSPENDED),
        ("a4", MAIN, Side.SELL, 10_000, 0, ExchangeRejectCode.INVALID_QUANTITY),
        ("a5", MAIN, Side.BUY, 10_000, 150, ExchangeRejectCode.LOT_VIOLATION),
        ("a6", STAR, Side.BUY, 50_000, 100, ExchangeRejectCode.LOT_VIOLATION),  # STAR: >= 200
        ("a7", STAR, Side.BUY, 50_000, 201, None),  # then steps of one share
        ("a8", BOND, Side.BUY, 100_000, 15, ExchangeRejectCode.LOT_VIOLATION),
        ("a9", MAIN, Side.SELL, 10_000, 150, None),  # odd part: the holder's whole remainder
        ("b1", STAR, Side.SELL, 50_000, 120, None),
        ("b2", STAR, Side.BUY, 50_000, 100_001, ExchangeRejectCode.QUANTITY_TOO_LARGE),
        ("b3", MAIN, Side.BUY, 10_000, 1_000_100, ExchangeRejectCode.QUANTITY_TOO_LARGE),
        ("b4", MAIN, Side.BUY, 10_005, 100, ExchangeRejectCode.PRICE_NOT_ON_TICK),
        ("b5", MAIN, Side.BUY, 0, 100, ExchangeRejectCode.PRICE_NOT_ON_TICK),
        ("b6", BOND, Side.BUY, 100_001, 10, None),  # bonds: 0.001 tick
        ("b7", MAIN, Side.BUY, 11_010, 100, ExchangeRejectCode.PRICE_ABOVE_LIMIT),
        ("b8", MAIN, Side.SELL, 8_990, 100, ExchangeRejectCode.PRICE_BELOW_LIMIT),
        ("b9", ST, Side.BUY, 2_110, 100, ExchangeRejectCode.PRICE_ABOVE_LIMIT),
        ("c1", MAIN, Side.BUY, 11_000, 100, None),  # exactly at the limit is allowed
    ]
    for order_id, symbol, side, price, quantity, expected in cases:
        events = exchange.submit(order_id, symbol, side, price, quantity)
        if expected is None:
            assert [type(e) for e in events] == [Accepted], (order_id, events)
        else:
            assert code_of(events) is expected, order_id
    assert code_of(exchange.cancel("nope")) is ExchangeRejectCode.UNKNOWN_ORDER
    texts = [(c.zh, c.en) for c in ExchangeRejectCode]
    assert all(zh and en for zh, en in texts) and len(set(texts)) == len(texts)


def test_domain_orders_are_accepted_ignoring_credit_flags(calendar: TradingCalendar) -> None:
    market = Market(calendar)
    market.snapshot(MAIN=10_000)
    order = Order("m1", "A1", AccountType.CREDIT, "T1", MAIN, OrderKind.MARGIN_BUY, Side.BUY,
                  10_010, 200)  # fmt: skip
    assert fills(market.exchange.submit_order(order)) == [("m1", 10_010, 200)]


# --- fills ---------------------------------------------------------------------------------


def test_marketable_orders_fill_at_the_touch(calendar: TradingCalendar) -> None:
    market = Market(calendar)
    market.snapshot(MAIN=10_000)  # bid 9.99, ask 10.01
    ex = market.exchange
    assert fills(ex.submit("b", MAIN, Side.BUY, 10_200, 300)) == [("b", 10_010, 300)]
    assert fills(ex.submit("s", MAIN, Side.SELL, 9_800, 500)) == [("s", 9_990, 500)]
    fill = next(e for e in ex.submit("t", MAIN, Side.BUY, 10_010, 100) if isinstance(e, Fill))
    assert fill.time == time(9, 30, 3) and fill.day == START and fill.side is Side.BUY
    assert ex.open_orders == 0


def test_resting_order_fills_when_the_price_comes(calendar: TradingCalendar) -> None:
    market = Market(calendar)
    market.snapshot(MAIN=10_000)
    ex = market.exchange
    assert fills(ex.submit("b", MAIN, Side.BUY, 9_950, 200)) == []
    assert fills(ex.submit("s", MAIN, Side.SELL, 10_100, 100)) == []
    assert fills(market.snapshot(MAIN=9_980)) == []  # ask 9.99: still above 9.95
    assert fills(market.snapshot(MAIN=9_940)) == [("b", 9_950, 200)]  # ask 9.95
    assert fills(market.snapshot(MAIN=10_120)) == [("s", 10_110, 100)]  # bid 10.11


def test_large_orders_fill_partly_against_volume_across_snapshots(
    calendar: TradingCalendar,
) -> None:
    market = Market(calendar)  # a quarter of 4,000 shares: 1,000 per snapshot and side
    market.snapshot(volume=4_000, MAIN=10_000)
    ex = market.exchange
    assert fills(ex.submit("big", MAIN, Side.BUY, 10_100, 3_500)) == [("big", 10_010, 1_000)]
    # Same snapshot: the liquidity is used up, later orders wait.
    assert fills(ex.submit("late", MAIN, Side.BUY, 10_200, 300)) == []
    # Next snapshot: better price first ("late" bids 10.20), then time.
    assert fills(market.snapshot(volume=4_000, MAIN=10_000)) == [
        ("late", 10_010, 300),
        ("big", 10_010, 700),
    ]
    assert ex.remaining("big") == 1_800
    assert fills(market.snapshot(volume=4_000, MAIN=10_000)) == [("big", 10_010, 1_000)]
    assert fills(market.snapshot(volume=4_090, MAIN=10_000)) == [("big", 10_010, 800)]
    assert ex.open_orders == 0


def test_odd_remainder_fills_whole_and_partial_fills_stay_in_lots(
    calendar: TradingCalendar,
) -> None:
    market = Market(calendar)
    market.snapshot(volume=800, MAIN=10_000)  # 200 shares per snapshot
    ex = market.exchange
    assert fills(ex.submit("odd", MAIN, Side.SELL, 9_990, 250)) == [("odd", 9_990, 200)]
    assert fills(ex.submit("lot", MAIN, Side.SELL, 9_990, 300)) == []
    # 50 (the odd remainder) then the rest of 200 floored to a lot: 100.
    assert fills(market.snapshot(volume=800, MAIN=10_000)) == [
        ("odd", 9_990, 50),
        ("lot", 9_990, 100),
    ]


def test_cancel_releases_only_the_remainder(calendar: TradingCalendar) -> None:
    market = Market(calendar)
    market.snapshot(volume=4_000, MAIN=10_000)
    ex = market.exchange
    assert fills(ex.submit("c", MAIN, Side.BUY, 10_010, 2_500)) == [("c", 10_010, 1_000)]
    cancelled = ex.cancel("c")
    assert cancelled == [
        Cancelled("c", MAIN, Side.BUY, 1_500, CancelReason.CLIENT, START, 0),
    ]
    assert fills(market.snapshot(volume=4_000, MAIN=10_000)) == []
    assert code_of(ex.cancel("c")) is ExchangeRejectCode.UNKNOWN_ORDER


def test_limit_up_buy_and_limit_down_sell_do_not_fill(calendar: TradingCalendar) -> None:
    market = Market(calendar)
    market.snapshot(MAIN=11_000, STAR=40_000)  # MAIN at limit up, STAR at limit down
    ex = market.exchange
    assert fills(ex.submit("up", MAIN, Side.BUY, 11_000, 100)) == []
    assert fills(ex.submit("down", STAR, Side.SELL, 40_000, 200)) == []
    # A sell into limit up fills at the limit (the bid queue is there).
    assert fills(ex.submit("s", MAIN, Side.SELL, 11_000, 100)) == [("s", 11_000, 100)]
    assert fills(market.snapshot(MAIN=11_000, STAR=40_000)) == []
    assert fills(market.snapshot(MAIN=10_990, STAR=40_010)) == [
        ("up", 11_000, 100),
        ("down", 40_000, 200),
    ]


def test_day_end_expires_open_orders_and_ids_continue(calendar: TradingCalendar) -> None:
    market = Market(calendar)
    market.snapshot(MAIN=10_000)
    ex = market.exchange
    first = fills_with_ids(ex.submit("f1", MAIN, Side.BUY, 10_010, 100))
    ex.submit("w1", MAIN, Side.BUY, 9_000, 100)
    ex.submit("w2", STAR, Side.SELL, 60_000, 300)
    expired = market.next_day()
    assert [(e.order_id, e.quantity, e.reason) for e in expired if isinstance(e, Cancelled)] == [
        ("w1", 100, CancelReason.EXPIRED),
        ("w2", 300, CancelReason.EXPIRED),
    ]
    assert ex.open_orders == 0
    assert fills(market.snapshot(MAIN=9_000, STAR=60_000)) == []  # nothing carried over
    market.snapshot(MAIN=10_000)
    second = fills_with_ids(ex.submit("f2", MAIN, Side.BUY, 10_010, 100))
    assert first == ["T20250102000000001"] and second == ["T20250103000000001"]


def fills_with_ids(events: list[Event]) -> list[str]:
    return [e.trade_id for e in events if isinstance(e, Fill)]


def test_a_seeded_session_replays_identically(calendar: TradingCalendar) -> None:
    """Random orders against the real simulator: same events twice, ids unique, no overfill."""

    def session() -> list[Event]:
        universe = load_demo_universe()
        sim = PriceSimulator.from_universe(universe, seed=11, calendar=calendar, start=START)
        ex = SimulatedExchange(sim.table)
        rng = random.Random(4)
        symbols = [s.symbol for s in universe.securities if s.kind is Kind.STOCK][:100]
        events: list[Event] = []
        sent: dict[str, int] = {}
        for _ in range(2):
            day = sim.open_day()
            ex.open_day(day)
            for snap, _ in zip(day.snapshots(), range(200), strict=False):
                events += ex.on_snapshot(snap)
                for _ in range(5):
                    symbol = rng.choice(symbols)
                    i = sim.index[symbol]
                    side = rng.choice((Side.BUY, Side.SELL))
                    ticks = rng.randint(-3, 3) * (1 if side is Side.BUY else -1)
                    price = int(snap.last_li[i]) + ticks * int(sim.tick_li[i])
                    price = min(max(price, int(day.limit_down_li[i])), int(day.limit_up_li[i]))
                    order_id = f"o{len(sent)}"
                    sent[order_id] = 200 * rng.randint(1, 200)
                    events += ex.submit(order_id, symbol, side, price, sent[order_id])
                if snap.seq % 7 == 3 and sent:
                    events += ex.cancel(f"o{rng.randrange(len(sent))}")
            events += ex.on_snapshot(day.closing_snapshot())
            events += ex.close_day()
            sim.close_day()
        return events

    first, again = session(), session()
    assert first == again
    flat = first
    trades = [e for e in flat if isinstance(e, Fill)]
    assert trades and len({t.trade_id for t in trades}) == len(trades)
    done: dict[str, int] = {}
    for e in flat:
        if isinstance(e, Fill | Cancelled):
            done[e.order_id] = done.get(e.order_id, 0) + e.quantity
    accepted = {e.order_id: e.quantity for e in flat if isinstance(e, Accepted)}
    assert done == accepted  # every accepted order ends filled or cancelled, never overfilled


def test_nothing_is_accepted_after_the_closing_snapshot(calendar: TradingCalendar) -> None:
    market = Market(calendar)
    market.snapshot(MAIN=10_000)
    ex = market.exchange
    ex.submit("w", MAIN, Side.BUY, 9_000, 100)
    market.seq = SNAPSHOTS_PER_DAY - 2
    market.snapshot(MAIN=10_000)  # 15:00:00, the closing call auction
    assert code_of(ex.submit("x", MAIN, Side.BUY, 10_010, 100)) is ExchangeRejectCode.MARKET_CLOSED
    assert code_of(ex.cancel("w")) is ExchangeRejectCode.MARKET_CLOSED
    assert [e.order_id for e in ex.close_day()] == ["w"]

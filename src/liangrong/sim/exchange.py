"""Simulated exchange: validates limit orders, fills them against the snapshots, expires them.

The matcher fills our orders against the market as the current ``Snapshot`` shows it, never
against each other (our book is a small part of the market): a buy at a price >= the ask fills
at the ask, a sell at a price <= the bid at the bid. Per snapshot and side, the liquidity our
orders may take in one security is ``participation_bps`` of the snapshot's market volume, rounded
down to the round lot, shared by our orders in price-then-time priority; what is not filled
rests and is retried on each new snapshot. At limit up there is no ask, so buys do not fill; at
limit down no bid, so sells do not fill. An order submitted after a snapshot is matched against
that snapshot at once (with what is left of its liquidity).

Refusals, in precedence order (the first that applies is reported): no day open or the 15:00
closing snapshot already seen (``MARKET_CLOSED``, for cancels too), duplicate order id (ids are
never reused, across days either), unknown security, security suspended, quantity not
positive, buy quantity not a lot (round lots of 100; STAR 200 then steps of 1; bonds 10 张),
quantity above the per-order maximum (STAR 100,000, ChiNext 300,000, otherwise 1,000,000 — the
limit-order caps of the exchanges' trading rules; funds and bonds use the main-board cap, a
simulator choice), price not positive or not on the tick, price above limit up, below limit down.
Sells are not held to the lot: the part below a round lot must be the account's whole odd
remainder, which only the broker can know (its pre-trade check), so the exchange accepts it.

Invariants:
- every fill is a whole number of round lots (100 shares, bonds 10 张) except an order's last
  fill, which may carry its odd remainder (odd-lot sells, STAR quantities like 201);
- an order's filled plus cancelled quantity never exceeds its quantity; a cancel releases
  exactly the unfilled remainder, and nothing fills after it;
- trade ids ``T{yyyymmdd}{n:09d}`` are unique across days and assigned in event order;
- events come in a deterministic order: per snapshot by security index, buys before sells, then
  price-time priority; expiries by arrival. No hashing of ids decides an order.
"""

from __future__ import annotations

from bisect import insort
from dataclasses import dataclass
from datetime import date, time
from enum import Enum
from operator import attrgetter

import numpy as np

from liangrong.domain.bilingual import Bilingual
from liangrong.domain.orders import Order, Side
from liangrong.domain.securities import Board, Kind
from liangrong.sim.prices import (
    SNAPSHOT_SECONDS,
    SNAPSHOTS_PER_DAY,
    SecurityTable,
    Snapshot,
    TradingDay,
)

PRE_OPEN_SECONDS = 9 * 3600 + 25 * 60  # events before the first snapshot: the 9:25 auction end
DEFAULT_PARTICIPATION_BPS = 2_500  # our book may take a quarter of each snapshot's volume
MAX_ORDER_STAR = 100_000
MAX_ORDER_CHINEXT = 300_000
MAX_ORDER_DEFAULT = 1_000_000


class ExchangeRejectCode(Bilingual):
    """Why the exchange refused an order or a cancel. Value: (zh, en)."""

    MARKET_CLOSED = ("非交易时间，不接受申报", "no trading day is open")
    DUPLICATE_ORDER_ID = ("申报编号重复", "the order id was already used")
    UNKNOWN_SECURITY = ("证券代码不存在", "unknown security")
    SUSPENDED = ("证券停牌，不接受申报", "the security is suspended today")
    INVALID_QUANTITY = ("申报数量必须大于零", "the quantity must be positive")
    LOT_VIOLATION = (
        "买入申报数量不符合交易单位要求",
        "a buy must be in whole lots (STAR: at least 200, then steps of 1)",
    )
    QUANTITY_TOO_LARGE = ("超过单笔申报最大数量", "the quantity exceeds the per-order maximum")
    PRICE_NOT_ON_TICK = (
        "申报价格不符合最小价格变动单位",
        "the price is not positive or not on the tick",
    )
    PRICE_ABOVE_LIMIT = ("申报价格高于涨停价格", "the price is above today's limit up")
    PRICE_BELOW_LIMIT = ("申报价格低于跌停价格", "the price is below today's limit down")
    UNKNOWN_ORDER = ("撤单失败：无此未成交委托", "cancel: no open order with this id")


class CancelReason(Enum):
    CLIENT = "client"  # 撤单 at the sender's request
    EXPIRED = "expired"  # the day ended with the order open (当日有效)


def _time_of(seq: int) -> time:
    s = int(SNAPSHOT_SECONDS[seq]) if seq >= 0 else PRE_OPEN_SECONDS
    return time(s // 3600, s // 60 % 60, s % 60)


@dataclass(frozen=True, slots=True)
class Accepted:
    order_id: str
    symbol: str
    side: Side
    price_li: int
    quantity: int
    day: date
    seq: int  # the snapshot current at acceptance; -1 before the day's first snapshot


@dataclass(frozen=True, slots=True)
class Rejected:
    order_id: str
    symbol: str
    code: ExchangeRejectCode
    day: date | None
    seq: int


@dataclass(frozen=True, slots=True)
class Fill:
    trade_id: str
    order_id: str
    symbol: str
    side: Side
    price_li: int
    quantity: int
    day: date
    seq: int

    @property
    def time(self) -> time:
        return _time_of(self.seq)


@dataclass(frozen=True, slots=True)
class Cancelled:
    order_id: str
    symbol: str
    side: Side
    quantity: int  # the unfilled remainder released
    reason: CancelReason
    day: date
    seq: int


Event = Accepted | Rejected | Fill | Cancelled


@dataclass(slots=True)
class _Open:
    order_id: str
    symbol: str
    index: int
    side: Side
    price_li: int
    remaining: int
    arrival: int
    priority: tuple[int, int]  # best price first (highest buy, lowest sell), then arrival


_PRIORITY = attrgetter("priority")
_CLOSING_SEQ = SNAPSHOTS_PER_DAY - 1


def _max_order(board: Board, kind: Kind) -> int:
    if kind is Kind.STOCK and board is Board.STAR:
        return MAX_ORDER_STAR
    if kind is Kind.STOCK and board is Board.CHINEXT:
        return MAX_ORDER_CHINEXT
    return MAX_ORDER_DEFAULT


class SimulatedExchange:
    """Day-order limit-order matcher over a ``SecurityTable`` (one day open at a time)."""

    def __init__(
        self, table: SecurityTable, participation_bps: int = DEFAULT_PARTICIPATION_BPS
    ) -> None:
        if not 0 < participation_bps <= 10_000:
            raise ValueError("participation must be in (0, 10000] basis points")
        self.table = table
        self.participation_bps = participation_bps
        n = len(table)
        self._lots = [s.lot for s in table.securities]
        self._max = [_max_order(s.board, s.kind) for s in table.securities]
        self._tick = table.tick_li.tolist()
        self._round_lot = table.round_lot.tolist()
        self._day: date | None = None
        self._up: list[int] = []
        self._down: list[int] = []
        self._suspended: list[bool] = []
        self._snap: Snapshot | None = None
        self._seen: set[str] = set()
        self._open: dict[str, _Open] = {}
        self._books: tuple[dict[int, list[_Open]], dict[int, list[_Open]]] = ({}, {})
        # Best resting price per security (0: none), so one vectorised test per snapshot finds
        # the few securities where something can fill.
        self._best = (np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64))
        self._taken: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self._arrivals = 0
        self._trades = 0
        self._trade_prefix = ""

    # --- the day ---------------------------------------------------------------------------

    def open_day(self, day: TradingDay) -> None:
        if self._day is not None:
            raise RuntimeError(f"{self._day} is still open: close it first")
        if len(day.limit_up_li) != len(self.table):
            raise ValueError("the trading day is for another security table")
        self._day = day.day
        self._up, self._down = day.limit_up_li.tolist(), day.limit_down_li.tolist()
        self._suspended = day.suspended.tolist()
        self._snap = None
        self._trades = 0
        self._trade_prefix = f"T{day.day:%Y%m%d}"  # formatted once: strftime per fill is slow

    def close_day(self) -> list[Event]:
        """Expire every open order (day orders), in arrival order."""
        day = self._require_day()
        seq = self._seq()
        events: list[Event] = [
            Cancelled(o.order_id, o.symbol, o.side, o.remaining, CancelReason.EXPIRED, day, seq)
            for o in sorted(self._open.values(), key=lambda o: o.arrival)
        ]
        self._open.clear()
        for book, best in zip(self._books, self._best, strict=True):
            book.clear()
            best[:] = 0
        self._day, self._snap = None, None
        return events

    @property
    def open_orders(self) -> int:
        return len(self._open)

    def remaining(self, order_id: str) -> int:
        """Unfilled quantity of an open order (0 when it is not open)."""
        order = self._open.get(order_id)
        return order.remaining if order else 0

    # --- orders ----------------------------------------------------------------------------

    def submit_order(self, order: Order) -> list[Event]:
        """``submit`` for a domain ``Order``; credit and business flags do not matter here."""
        return self.submit(order.order_id, order.symbol, order.side, order.price_li, order.quantity)

    def submit(
        self, order_id: str, symbol: str, side: Side, price_li: int, quantity: int
    ) -> list[Event]:
        code, index = self._check(order_id, symbol, side, price_li, quantity)
        if code is not None:
            return [Rejected(order_id, symbol, code, self._day, self._seq())]
        day = self._require_day()
        self._arrivals += 1
        sell = side is Side.SELL
        priority = (price_li if sell else -price_li, self._arrivals)
        order = _Open(order_id, symbol, index, side, price_li, quantity, self._arrivals, priority)
        self._open[order_id] = order
        book = self._books[sell].setdefault(index, [])
        insort(book, order, key=_PRIORITY)
        self._best[sell][index] = book[0].price_li
        events: list[Event] = [
            Accepted(order_id, symbol, side, price_li, quantity, day, self._seq())
        ]
        snap = self._snap
        if (
            snap is not None and book[0] is order
        ):  # only a new best order can have become marketable
            touch = int(snap.bid_li[index] if sell else snap.ask_li[index])
            if touch and (price_li <= touch if sell else price_li >= touch):
                self._match_side(index, side, events)
        return events

    def _check(
        self, order_id: str, symbol: str, side: Side, price_li: int, quantity: int
    ) -> tuple[ExchangeRejectCode | None, int]:
        if self._closed():
            return ExchangeRejectCode.MARKET_CLOSED, -1
        if order_id in self._seen:
            return ExchangeRejectCode.DUPLICATE_ORDER_ID, -1
        self._seen.add(order_id)
        index = self.table.index.get(symbol)
        if index is None:
            return ExchangeRejectCode.UNKNOWN_SECURITY, -1
        if self._suspended[index]:
            return ExchangeRejectCode.SUSPENDED, index
        if quantity <= 0:
            return ExchangeRejectCode.INVALID_QUANTITY, index
        if side is Side.BUY and not self._lots[index].allows(quantity):
            return ExchangeRejectCode.LOT_VIOLATION, index
        if quantity > self._max[index]:
            return ExchangeRejectCode.QUANTITY_TOO_LARGE, index
        if price_li <= 0 or price_li % self._tick[index]:
            return ExchangeRejectCode.PRICE_NOT_ON_TICK, index
        if price_li > self._up[index]:
            return ExchangeRejectCode.PRICE_ABOVE_LIMIT, index
        if price_li < self._down[index]:
            return ExchangeRejectCode.PRICE_BELOW_LIMIT, index
        return None, index

    def cancel(self, order_id: str) -> list[Event]:
        """Cancel the unfilled remainder of an open order."""
        if self._closed():
            code = ExchangeRejectCode.MARKET_CLOSED
            return [Rejected(order_id, "", code, self._day, self._seq())]
        order = self._open.pop(order_id, None)
        if order is None or self._day is None:
            return [
                Rejected(order_id, "", ExchangeRejectCode.UNKNOWN_ORDER, self._day, self._seq())
            ]
        sell = order.side is Side.SELL
        book = self._books[sell][order.index]
        book.remove(order)
        self._best[sell][order.index] = book[0].price_li if book else 0
        return [
            Cancelled(
                order_id,
                order.symbol,
                order.side,
                order.remaining,
                CancelReason.CLIENT,
                self._day,
                self._seq(),
            )
        ]

    # --- matching --------------------------------------------------------------------------

    def on_snapshot(self, snap: Snapshot) -> list[Event]:
        """Make ``snap`` current and fill what has become marketable against it."""
        day = self._require_day()
        if snap.day != day or (self._snap is not None and snap.seq <= self._snap.seq):
            raise ValueError(f"snapshot {snap.day} #{snap.seq} is out of order")
        self._snap = snap
        for taken in self._taken:
            taken.clear()
        events: list[Event] = []
        if not self._open:
            return events
        buy, sell = self._best
        ask, bid = snap.ask_li, snap.bid_li
        hit = ((ask > 0) & (buy >= ask)) | ((sell > 0) & (sell <= bid))
        for index in np.flatnonzero(hit).tolist():
            self._match_side(index, Side.BUY, events)
            self._match_side(index, Side.SELL, events)
        return events

    def _match_side(self, index: int, side: Side, events: list[Event]) -> None:
        snap, day = self._snap, self._day
        assert snap is not None and day is not None
        sell = side is Side.SELL
        book = self._books[sell].get(index)
        price = int(snap.bid_li[index] if sell else snap.ask_li[index])
        if not book or price == 0:
            return
        lot = self._round_lot[index]
        capacity = int(snap.volume[index]) * self.participation_bps // 10_000 // lot * lot
        # Floored to the lot after an odd-remainder fill, so every partial fill is whole lots.
        left = (capacity - self._taken[sell].get(index, 0)) // lot * lot
        done = 0
        for order in book:
            marketable = order.price_li <= price if sell else order.price_li >= price
            if left <= 0 or not marketable:
                break
            quantity = min(order.remaining, left)
            left = (left - quantity) // lot * lot
            order.remaining -= quantity
            self._trades += 1
            trade_id = f"{self._trade_prefix}{self._trades:09d}"
            events.append(
                Fill(trade_id, order.order_id, order.symbol, side, price, quantity, day, snap.seq)
            )
            if order.remaining:
                break  # only the last order reached can be partly filled
            done += 1
            del self._open[order.order_id]
        if done:
            del book[:done]
        self._best[sell][index] = book[0].price_li if book else 0
        self._taken[sell][index] = capacity - left

    # --- helpers ---------------------------------------------------------------------------

    def _require_day(self) -> date:
        if self._day is None:
            raise RuntimeError("no trading day is open")
        return self._day

    def _closed(self) -> bool:
        """No day open, or the 15:00 closing snapshot has been seen: nothing is accepted."""
        return self._day is None or (self._snap is not None and self._snap.seq == _CLOSING_SEQ)

    def _seq(self) -> int:
        return self._snap.seq if self._snap is not None else -1

"""Seeded price simulator: daily limits and 3-second snapshots for every security.

Each simulated trading day k is mapped onto a real CSI 300 daily return ``R[k % n]`` from a
historical window (``index_history``), wrapping around when the run outlasts the window. A
security's day return is ``beta × R + idio × z`` (simple returns, seeded per-security beta and
idiosyncratic volatility); the intraday path is a seeded Brownian bridge from the previous close
to that target, generated in fixed chunks of ``CHUNK`` snapshots (each chunk first draws its end
point from the bridge's conditional law, then fills the inside), so a day's path does not depend
on how many snapshots a caller consumes.

Snapshot grid (SSE and SZSE alike): continuous trading 9:30-11:30 and 13:00-14:57 every 3 s,
stamped at the end of each interval (9:30:03 .. 11:30:00 = 2,400; 13:00:03 .. 14:57:00 = 2,340),
then the closing call auction as one snapshot at 15:00:00: ``SNAPSHOTS_PER_DAY`` = 4,741.

Invariants:
- every last/bid/ask price is on the security's tick and within [limit_down, limit_up];
- limit prices are ``prev_close × (1 ± pct)`` rounded half up to the tick, as the exchanges
  compute them, in integer arithmetic; a limit down is never below one tick;
- at limit up there is no ask (``ask_li == 0``), at limit down no bid (``bid_li == 0``);
  otherwise bid = last - tick and ask = last + tick;
- suspended securities keep their previous close, have no quotes and no volume;
- the day's close is the last snapshot's price (the bridge end, known at the open:
  ``TradingDay.close_li``); the next day's previous close is that close;
- arrays are indexed by the dense security index of ``SecurityTable`` and are read-only;
- the same seed, inputs and numpy version give identical arrays: every draw comes from a numpy
  ``PCG64`` stream keyed by (seed, purpose, day), prices use only +, ×, / and floor, no hash or
  clock is involved.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, time

import numpy as np
import numpy.typing as npt

from liangrong.domain.calendar import TradingCalendar
from liangrong.domain.securities import Board, Kind, Security, Status
from liangrong.sim.index_history import DEFAULT_WINDOW, IndexHistory, load_window
from liangrong.sim.universe import DemoUniverse

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def _grid(first: int, last: int) -> list[int]:
    return list(range(first + 3, last + 1, 3))


SNAPSHOT_SECONDS: IntArray = np.array(
    _grid(9 * 3600 + 30 * 60, 11 * 3600 + 30 * 60)
    + _grid(13 * 3600, 14 * 3600 + 57 * 60)
    + [15 * 3600],
    dtype=np.int64,
)
SNAPSHOT_SECONDS.setflags(write=False)
SNAPSHOTS_PER_DAY = len(SNAPSHOT_SECONDS)  # 4,741
CHUNK = 100  # snapshots generated per draw: part of the seeded stream, changing it changes paths

BOND_BAND_PCT = 10  # simulator choice: a wide band, not a published bond limit
# ETFs whose index is STAR or ChiNext only trade with ±20% like their constituents.
ETF_LIMIT_OVERRIDES = {"588000.SH": 20, "159915.SZ": 20}
CLOSING_AUCTION_WEIGHT = 20.0  # the 15:00 call auction trades about 20 snapshots' volume
INDEX_DAILY_VOL = 0.015  # typical CSI 300 daily volatility: scales the intraday wiggle

# Streams of the seeded generator, one per purpose, so adding draws to one leaves the rest.
_STATIC, _TARGET, _PATH, _VOLUME, _CLOSE = 0, 1, 2, 3, 4


def _is_bond(security: Security) -> bool:
    return security.kind in (Kind.GOVERNMENT_BOND, Kind.OTHER_BOND)


# (beta low, high, daily idiosyncratic vol low, high, daily turnover of float low, high)
_GROWTH_BOARDS = (0.9, 1.6, 0.015, 0.035, 0.01, 0.05)  # STAR and ChiNext stocks
_MAIN_BOARDS = (0.6, 1.4, 0.008, 0.025, 0.003, 0.03)
_MONEY_MARKET = (0.0, 0.0, 0.0001, 0.0002, 0.05, 0.2)
_FUNDS = (0.95, 1.1, 0.001, 0.003, 0.02, 0.1)
_BONDS = (0.0, 0.0, 0.0005, 0.002, 0.001, 0.01)  # rate risk only, unrelated to equities


def _profile(security: Security, money_market: frozenset[str]) -> tuple[float, ...]:
    if security.kind is Kind.STOCK:
        growth = security.board in (Board.STAR, Board.CHINEXT)
        return _GROWTH_BOARDS if growth else _MAIN_BOARDS
    if security.symbol in money_market:
        return _MONEY_MARKET
    return _BONDS if _is_bond(security) else _FUNDS


def limit_percent(security: Security, risk_warning_pct: int = 5) -> int:
    """Daily price-limit percentage for ``security`` by board, kind and status.

    Main-board risk-warning (ST) stocks: ``risk_warning_pct`` (5%; the exchanges consulted in
    June 2025 on moving it to 10%). STAR and ChiNext: 20% whatever the status. Delisting-period
    stocks keep their board's limit (the first day's exemption is not simulated), as do new
    listings (their first days without limit are not simulated either).
    """
    if _is_bond(security):
        return BOND_BAND_PCT
    if security.kind is not Kind.STOCK:
        return 10
    if security.board in (Board.STAR, Board.CHINEXT):
        return 20
    return risk_warning_pct if security.status is Status.RISK_WARNING else 10


def limit_prices(
    prev_close_li: IntArray, pct: IntArray, tick_li: IntArray
) -> tuple[IntArray, IntArray]:
    """(limit up, limit down): ``prev × (100 ± pct) / 100`` rounded half up to the tick."""
    den = 100 * tick_li
    up = (2 * prev_close_li * (100 + pct) + den) // (2 * den) * tick_li
    down = (2 * prev_close_li * (100 - pct) + den) // (2 * den) * tick_li
    return up, np.maximum(down, tick_li)


@dataclass(frozen=True)
class SecurityTable:
    """The dense security index shared by the simulator, the exchange and the book."""

    securities: tuple[Security, ...]
    index: dict[str, int] = field(init=False, repr=False)
    tick_li: IntArray = field(init=False, repr=False)
    round_lot: IntArray = field(init=False, repr=False)  # volumes come in these: 100, bonds 10

    def __post_init__(self) -> None:
        index = {s.symbol: i for i, s in enumerate(self.securities)}
        if len(index) != len(self.securities):
            raise ValueError("duplicate symbols in the security table")
        object.__setattr__(self, "index", index)
        ticks = np.array([s.tick_li for s in self.securities], dtype=np.int64)
        lots = np.array([10 if _is_bond(s) else 100 for s in self.securities], dtype=np.int64)
        for name, array in (("tick_li", ticks), ("round_lot", lots)):
            _frozen(array)
            object.__setattr__(self, name, array)

    def __len__(self) -> int:
        return len(self.securities)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(s.symbol for s in self.securities)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One 3-second market snapshot of every security (read-only views)."""

    day: date
    seq: int  # 0 .. SNAPSHOTS_PER_DAY - 1
    last_li: IntArray
    bid_li: IntArray  # 0: no bid (limit down or suspended)
    ask_li: IntArray  # 0: no ask (limit up or suspended)
    volume: IntArray  # shares (bonds: 张) traded in the market during this snapshot

    @property
    def seconds(self) -> int:
        """Seconds since midnight of the snapshot's stamp."""
        return int(SNAPSHOT_SECONDS[self.seq])

    @property
    def time(self) -> time:
        s = self.seconds
        return time(s // 3600, s // 60 % 60, s % 60)


def _frozen(array: npt.NDArray[np.generic]) -> None:
    array.setflags(write=False)


class TradingDay:
    """One simulated day: its limits, its target close and its snapshots in order."""

    def __init__(
        self,
        sim: PriceSimulator,
        day: date,
        index_return: float,
        prev_close_li: IntArray,
        suspended: BoolArray,
        target: FloatArray,
    ) -> None:
        self.day = day
        self.index_return = index_return
        self.prev_close_li = prev_close_li
        self.suspended = suspended
        self.limit_up_li, self.limit_down_li = limit_prices(prev_close_li, sim.pct, sim.tick_li)
        self._tick = sim.tick_li
        self._target = target
        self._sigma = np.where(suspended, 0.0, sim.step_sigma)
        self._seed = (sim.seed, day.toordinal())
        self._path_rng = np.random.Generator(np.random.PCG64((*self._seed, _PATH)))
        self._volume_rng = np.random.Generator(np.random.PCG64((*self._seed, _VOLUME)))
        self._volume_per_snapshot = np.where(suspended, 0.0, sim.daily_volume / SNAPSHOTS_PER_DAY)
        self._volume_unit = sim.volume_unit
        self._x = np.zeros(len(prev_close_li))  # return since the previous close at `_next`
        self._next = 0  # the next snapshot to generate
        self.close_li = self._prices(target)
        frozen = (
            self.prev_close_li,
            self.limit_up_li,
            self.limit_down_li,
            self.close_li,
            suspended,
        )
        for array in frozen:
            _frozen(array)

    def _prices(self, ret: FloatArray) -> IntArray:
        # Works on one row or a (rows, securities) block; ticks broadcast along the last axis.
        ticks = np.floor(self.prev_close_li * (1.0 + ret) / self._tick + 0.5).astype(np.int64)
        prices: IntArray = np.clip(ticks * self._tick, self.limit_down_li, self.limit_up_li)
        return prices

    def _chunk(self) -> list[Snapshot]:
        start, remaining = self._next, SNAPSHOTS_PER_DAY - self._next
        m = min(CHUNK, remaining)
        x0, sigma = self._x, self._sigma
        if m == remaining:
            x_end = self._target
        else:  # the bridge's law at m steps ahead, given x0 now and the target at the close
            mean = x0 + (m / remaining) * (self._target - x0)
            spread = np.sqrt(m * (remaining - m) / remaining)
            x_end = mean + sigma * spread * self._path_rng.standard_normal(len(x0))
        walk = np.cumsum(self._path_rng.standard_normal((m, len(x0))) * sigma, axis=0)
        share = (np.arange(1, m + 1, dtype=np.float64) / m)[:, None]
        path = x0 + walk - share * walk[-1] + share * (x_end - x0)
        path[-1] = x_end  # exactly the drawn end point, so the close equals `close_li`
        self._x, self._next = x_end, start + m
        last = self._prices(path)
        bid, ask = self._quotes(last)
        volume = self._volume(start, m)
        if self._next == SNAPSHOTS_PER_DAY:
            volume[-1] = self._closing_volume()
        for array in (last, bid, ask, volume):
            _frozen(array)
        return [Snapshot(self.day, start + i, last[i], bid[i], ask[i], volume[i]) for i in range(m)]

    def _quotes(self, last: IntArray) -> tuple[IntArray, IntArray]:
        up, down, tick = self.limit_up_li, self.limit_down_li, self._tick
        bid = np.where(last >= up, up, last - tick)
        bid[(last <= down) | self.suspended] = 0
        ask = np.where(last <= down, down, last + tick)
        ask[(last >= up) | self.suspended] = 0
        return bid, ask

    def _closing_volume(self) -> IntArray:
        # Its own stream, so the closing snapshot is the same whether reached or skipped to.
        rng = np.random.Generator(np.random.PCG64((*self._seed, _CLOSE)))
        noise = 0.25 + 1.5 * rng.random(len(self._x))
        shares = np.floor(self._volume_per_snapshot * CLOSING_AUCTION_WEIGHT * noise)
        return shares.astype(np.int64) // self._volume_unit * self._volume_unit

    def closing_snapshot(self) -> Snapshot:
        """Skip what is left of the day and return the 15:00 closing snapshot.

        For runs that stop before the close (``simulate --minutes 30``): its price is
        ``close_li`` exactly, the snapshot a full day ends with, so the close is still the last
        snapshot's price; no intermediate snapshot is generated.
        """
        if self._next >= SNAPSHOTS_PER_DAY:
            raise RuntimeError(f"{self.day}: the closing snapshot was already produced")
        self._next = SNAPSHOTS_PER_DAY
        self._x = self._target
        last = self.close_li.copy()
        bid, ask = self._quotes(last)
        volume = self._closing_volume()
        for array in (last, bid, ask, volume):
            _frozen(array)
        return Snapshot(self.day, SNAPSHOTS_PER_DAY - 1, last, bid, ask, volume)

    def _volume(self, start: int, m: int) -> IntArray:
        rows = np.arange(start, start + m)
        # U-shaped intraday activity, piecewise linear; the closing auction trades a lump.
        shape = (
            1.0
            + np.maximum(0.0, 1.0 - rows / 600.0)
            + 0.8 * np.maximum(0.0, 1.0 - (SNAPSHOTS_PER_DAY - 2 - rows) / 600.0)
        )
        noise = 0.25 + 1.5 * self._volume_rng.random((m, len(self._x)))
        shares = np.floor(self._volume_per_snapshot * shape[:, None] * noise).astype(np.int64)
        return shares // self._volume_unit * self._volume_unit

    def snapshots(self) -> Iterator[Snapshot]:
        """The remaining snapshots of the day, in order (4,741 for a whole day)."""
        while self._next < SNAPSHOTS_PER_DAY:
            yield from self._chunk()

    @property
    def generated(self) -> int:
        return self._next


class PriceSimulator:
    """Seeded simulator of daily limits and intraday snapshots over a fixed security table."""

    def __init__(
        self,
        securities: Sequence[Security],
        prev_close_li: Mapping[str, int],
        *,
        seed: int,
        calendar: TradingCalendar,
        start: date,
        index_returns: Sequence[float] | FloatArray,
        suspended: Iterable[str] = (),
        money_market: Iterable[str] = (),
        limit_overrides: Mapping[str, int] | None = None,
        risk_warning_pct: int = 5,
        first_day_number: int = 0,
    ) -> None:
        """``first_day_number``: which of ``index_returns`` the first day replays."""
        if not calendar.is_trading_day(start):
            raise ValueError(f"{start} is not a trading day")
        self.table = SecurityTable(tuple(securities))
        self.seed = seed
        self.calendar = calendar
        self.index_returns = np.array(index_returns, dtype=np.float64)
        if len(self.index_returns) == 0:
            raise ValueError("no index returns to map the simulated days onto")
        self.tick_li = self.table.tick_li
        closes = np.array([prev_close_li[s] for s in self.table.symbols], dtype=np.int64)
        if np.any(closes <= 0) or np.any(closes % self.tick_li):
            raise ValueError("previous closes must be positive and on the tick")
        self.prev_close_li = closes
        overrides = dict(limit_overrides or {})
        self.pct = np.array(
            [overrides.get(s.symbol, limit_percent(s, risk_warning_pct)) for s in securities],
            dtype=np.int64,
        )
        self.halted = np.array(
            [s.status in (Status.SUSPENDED, Status.DELISTED) for s in securities], dtype=np.bool_
        )
        self.extra_suspended = frozenset(suspended)
        self._draw_statics(frozenset(money_market))
        self.next_day = start
        self.day_number = first_day_number  # the next day's move in `index_returns` (wrapping)
        self.current: TradingDay | None = None

    def _draw_statics(self, money_market: frozenset[str]) -> None:
        """Per-security beta, idiosyncratic volatility and turnover: one vectorised draw each."""
        rng = np.random.Generator(np.random.PCG64((self.seed, _STATIC)))
        ranges = np.array([_profile(s, money_market) for s in self.table.securities])
        low, high = ranges[:, 0::2], ranges[:, 1::2]  # columns: beta, idio, turnover
        drawn = low + rng.random(low.shape) * (high - low)
        self.beta = np.ascontiguousarray(drawn[:, 0])
        self.idio = np.ascontiguousarray(drawn[:, 1])
        float_shares = np.array([s.float_shares for s in self.table.securities], dtype=np.float64)
        self.daily_volume = float_shares * drawn[:, 2]
        self.volume_unit = self.table.round_lot
        day_vol = np.sqrt((self.beta * INDEX_DAILY_VOL) ** 2 + self.idio**2)
        self.step_sigma = day_vol / np.sqrt(SNAPSHOTS_PER_DAY)
        for array in (self.beta, self.idio, self.daily_volume, self.step_sigma):
            _frozen(array)

    @classmethod
    def from_universe(
        cls,
        universe: DemoUniverse,
        *,
        seed: int,
        calendar: TradingCalendar,
        start: date,
        window: IndexHistory | str = DEFAULT_WINDOW,
        suspended: Iterable[str] = (),
        risk_warning_pct: int = 5,
    ) -> PriceSimulator:
        """The demo universe at its generated prices, driven by a named or given window."""
        history = load_window(window) if isinstance(window, str) else window
        return cls(
            universe.securities,
            universe.price_li,
            seed=seed,
            calendar=calendar,
            start=start,
            index_returns=history.returns,
            suspended=suspended,
            money_market=universe.money_market,
            limit_overrides=ETF_LIMIT_OVERRIDES,
            risk_warning_pct=risk_warning_pct,
        )

    @property
    def symbols(self) -> tuple[str, ...]:
        return self.table.symbols

    @property
    def index(self) -> dict[str, int]:
        return self.table.index

    def open_day(self, suspended: Iterable[str] | None = None) -> TradingDay:
        """Start the next trading day; ``suspended`` replaces the extra suspended set."""
        if self.current is not None:
            raise RuntimeError(f"{self.current.day} is still open: close it first")
        if suspended is not None:
            self.extra_suspended = frozenset(suspended)
        mask = self.halted.copy()
        for symbol in sorted(self.extra_suspended):
            mask[self.table.index[symbol]] = True
        day = self.next_day
        index_return = float(self.index_returns[self.day_number % len(self.index_returns)])
        rng = np.random.Generator(np.random.PCG64((self.seed, day.toordinal(), _TARGET)))
        target = self.beta * index_return + self.idio * rng.standard_normal(len(self.table))
        target = np.where(mask, 0.0, np.maximum(target, -0.9))
        prev = self.prev_close_li.copy()
        self.current = TradingDay(self, day, index_return, prev, mask, target)
        return self.current

    def close_day(self) -> IntArray:
        """End the open day; its close (the last snapshot's price) becomes the previous close."""
        if self.current is None:
            raise RuntimeError("no day is open")
        closes = self.current.close_li
        self.prev_close_li = closes.copy()
        self.next_day = self.calendar.next_trading_day(self.current.day)
        self.day_number += 1
        self.current = None
        return closes

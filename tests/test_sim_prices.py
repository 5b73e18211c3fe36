"""The CSI 300 history and the seeded price simulator: limits, ticks, suspensions, determinism."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from datetime import date, time

import numpy as np
import pytest

from liangrong.domain.calendar import TradingCalendar
from liangrong.domain.securities import Board, Exchange, Kind, Security, Status
from liangrong.sim.calendar_data import load_shipped_calendar
from liangrong.sim.index_history import (
    IndexFileError,
    load_csi300,
    load_window,
    parse_history,
)
from liangrong.sim.prices import (
    SNAPSHOTS_PER_DAY,
    PriceSimulator,
    Snapshot,
    limit_percent,
    limit_prices,
)
from liangrong.sim.universe import DemoUniverse, load_demo_universe

START = date(2025, 1, 2)


@pytest.fixture(scope="module")
def universe() -> DemoUniverse:
    return load_demo_universe()


@pytest.fixture(scope="module")
def calendar() -> TradingCalendar:
    return load_shipped_calendar()


def simulator(
    universe: DemoUniverse, calendar: TradingCalendar, seed: int = 7, window: str = "2025"
) -> PriceSimulator:
    return PriceSimulator.from_universe(
        universe, seed=seed, calendar=calendar, start=START, window=window
    )


def stacked(snaps: list[Snapshot], field: str) -> np.ndarray:
    return np.stack([getattr(s, field) for s in snaps])


# --- the index history ---------------------------------------------------------------------


def test_history_covers_2006_to_2025_and_finds_the_2008_low() -> None:
    history = load_csi300()
    assert history.dates[0] == date(2006, 1, 6) and history.dates[-1] == date(2025, 12, 31)
    assert len(history.returns) == len(history) - 1
    crisis = history.named("2008-10")
    assert crisis.lowest_close() == (date(2008, 11, 4), pytest.approx(1627.759))
    assert float(crisis.low.min()) == pytest.approx(1606.731)
    assert history.named("2008").total_return() < -0.6
    assert history.named("2015-06..08").total_return() < -0.3


def test_window_returns_are_close_to_close() -> None:
    window = load_window("2024-01")
    assert window.dates[0] == date(2023, 12, 29)  # the day before the period: its first move
    expected = window.close[1] / window.close[0] - 1.0
    assert window.returns[0] == expected
    assert np.allclose(np.exp(window.log_returns), 1.0 + window.returns)
    with pytest.raises(ValueError, match="unknown window"):
        load_window("1929")


def test_malformed_history_is_refused_with_the_line() -> None:
    header = "date,open,high,low,close,volume\n"
    with pytest.raises(IndexFileError, match="line 1"):
        parse_history("day,close\n2024-01-02,1\n")
    with pytest.raises(IndexFileError, match="line 3"):
        parse_history(header + "2024-01-03,1,1,1,1,5\n2024-01-02,1,1,1,1,5\n")
    with pytest.raises(IndexFileError, match="line 2: close"):
        parse_history(header + "2024-01-02,1,1,1,-3,5\n2024-01-03,1,1,1,1,5\n")


# --- limit prices --------------------------------------------------------------------------


def security(
    code: str = "600000",
    board: Board = Board.SSE_MAIN,
    kind: Kind = Kind.STOCK,
    status: Status = Status.NORMAL,
    exchange: Exchange = Exchange.SH,
) -> Security:
    return Security(
        code=code,
        exchange=exchange,
        name="测试",
        board=board,
        kind=kind,
        total_shares=1_000_000_000,
        float_shares=800_000_000,
        listing_date=date(2010, 1, 4),
        registration_ipo=False,
        status=status,
        large_cap_constituent=False,
    )


def limits(sec: Security, prev_li: int, risk_warning_pct: int = 5) -> tuple[int, int]:
    up, down = limit_prices(
        np.array([prev_li]),
        np.array([limit_percent(sec, risk_warning_pct)]),
        np.array([sec.tick_li]),
    )
    return int(up[0]), int(down[0])


@pytest.mark.parametrize(
    ("sec", "prev_li", "expected"),
    [
        (security(), 10_010, (11_010, 9_010)),  # 11.011 -> 11.01, 9.009 -> 9.01
        (security(), 3_350, (3_690, 3_020)),  # 3.685 and 3.015: half up to the tick
        (security(), 3_330, (3_660, 3_000)),  # 3.663 -> 3.66, 2.997 -> 3.00
        (security("000001", Board.SZSE_MAIN, exchange=Exchange.SZ), 12_340, (13_570, 11_110)),
        (security("688001", Board.STAR), 12_340, (14_810, 9_870)),  # ±20%
        (security("300750", Board.CHINEXT, exchange=Exchange.SZ), 8_880, (10_660, 7_100)),
        (security(status=Status.RISK_WARNING), 2_500, (2_630, 2_380)),  # ±5%: 2.625, 2.375
        # ChiNext and STAR risk-warning stocks keep ±20%.
        (security("300001", Board.CHINEXT, status=Status.RISK_WARNING, exchange=Exchange.SZ),
         2_500, (3_000, 2_000)),
        (security(status=Status.DELISTING_PERIOD), 1_000, (1_100, 900)),
        (security("510300", Board.NONE, Kind.ETF), 4_123, (4_535, 3_711)),  # tick 0.001
        (security("019547", Board.NONE, Kind.GOVERNMENT_BOND), 100_005, (110_006, 90_005)),
        (security(), 10, (10, 10)),  # one tick: the limit down never reaches zero
    ],
)  # fmt: skip
def test_limit_prices_by_board_and_status(
    sec: Security, prev_li: int, expected: tuple[int, int]
) -> None:
    assert limits(sec, prev_li) == expected


def test_risk_warning_percentage_is_a_parameter() -> None:
    # The exchanges consulted in 2025 on moving main-board ST stocks to ±10%.
    assert limits(security(status=Status.RISK_WARNING), 2_500, risk_warning_pct=10) == (
        2_750,
        2_250,
    )


def test_star_and_chinext_etfs_have_20_percent(
    universe: DemoUniverse, calendar: TradingCalendar
) -> None:
    sim = simulator(universe, calendar)
    assert sim.pct[sim.index["588000.SH"]] == 20 and sim.pct[sim.index["159915.SZ"]] == 20
    assert sim.pct[sim.index["510300.SH"]] == 10


# --- the simulator -------------------------------------------------------------------------


def test_snapshot_grid() -> None:
    assert SNAPSHOTS_PER_DAY == 4_741
    day = date(2025, 1, 2)
    empty = np.zeros(1, dtype=np.int64)
    at = [
        Snapshot(day, seq, empty, empty, empty, empty).time for seq in (0, 2399, 2400, 4739, 4740)
    ]
    assert at == [time(9, 30, 3), time(11, 30), time(13, 0, 3), time(14, 57), time(15, 0)]


def test_whole_day_on_the_tick_within_limits_and_closes_at_the_last_snapshot(
    universe: DemoUniverse, calendar: TradingCalendar
) -> None:
    sim = simulator(universe, calendar, window="2015-06..08")
    tick = sim.tick_li
    for _ in range(2):
        day = sim.open_day()
        snaps = list(day.snapshots())
        assert [s.seq for s in snaps] == list(range(SNAPSHOTS_PER_DAY))
        last, bid, ask = (stacked(snaps, f) for f in ("last_li", "bid_li", "ask_li"))
        assert np.all(last % tick == 0)
        assert np.all((last >= day.limit_down_li) & (last <= day.limit_up_li))
        at_up, at_down = last == day.limit_up_li, last == day.limit_down_li
        trading = ~day.suspended
        assert np.all(ask[at_up] == 0) and np.all(bid[at_down] == 0)
        inner = ~at_up & ~at_down & trading
        assert np.all(bid[inner] == (last - tick)[inner]) and np.all(
            ask[inner] == (last + tick)[inner]
        )
        assert np.array_equal(snaps[-1].last_li, day.close_li)
        prev_close = sim.close_day()
        assert np.array_equal(sim.prev_close_li, prev_close)
        assert np.all(stacked(snaps, "volume")[:, trading] >= 0)
    assert sim.next_day == calendar.add_trading_days(START, 2)


def test_suspended_securities_do_not_move_or_trade(
    universe: DemoUniverse, calendar: TradingCalendar
) -> None:
    sim = simulator(universe, calendar)
    halted = next(s.symbol for s in universe.securities if s.status is Status.SUSPENDED)
    extra = "600519.SH"
    day = sim.open_day(suspended={extra})
    snaps = list(day.snapshots())
    for symbol in (halted, extra):
        i = sim.index[symbol]
        assert day.suspended[i]
        assert np.all(stacked(snaps, "last_li")[:, i] == day.prev_close_li[i])
        for field in ("volume", "bid_li", "ask_li"):
            assert not stacked(snaps, field)[:, i].any()
    sim.close_day()
    assert not sim.open_day(suspended=()).suspended[sim.index[extra]]  # resumed next day


def test_same_seed_same_arrays_other_seed_other_arrays(
    universe: DemoUniverse, calendar: TradingCalendar
) -> None:
    def run(seed: int) -> list[np.ndarray]:
        sim = simulator(universe, calendar, seed=seed)
        out: list[np.ndarray] = []
        for _ in range(2):
            day = sim.open_day()
            snaps = list(zip(range(250), day.snapshots(), strict=False))
            out += [stacked([s for _, s in snaps], f) for f in ("last_li", "volume")]
            out.append(sim.close_day())
        return out

    first, again, other = run(7), run(7), run(8)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not any(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


def test_skipping_to_the_close_gives_the_same_close_and_snapshot(
    universe: DemoUniverse, calendar: TradingCalendar
) -> None:
    full, fast = simulator(universe, calendar), simulator(universe, calendar)
    last = list(full.open_day().snapshots())[-1]
    day = fast.open_day()
    head = [s for _, s in zip(range(600), day.snapshots(), strict=False)]  # a 30-minute run
    closing = day.closing_snapshot()
    assert head[-1].seq == 599 and closing.seq == SNAPSHOTS_PER_DAY - 1
    for field in ("last_li", "bid_li", "ask_li", "volume"):
        assert np.array_equal(getattr(closing, field), getattr(last, field))
    assert np.array_equal(full.close_day(), fast.close_day())


_DIGEST = """
from datetime import date
import hashlib
from liangrong.sim.calendar_data import load_shipped_calendar
from liangrong.sim.prices import PriceSimulator
from liangrong.sim.universe import load_demo_universe
sim = PriceSimulator.from_universe(load_demo_universe(), seed=3,
    calendar=load_shipped_calendar(), start=date(2025, 1, 2), suspended={"600519.SH"})
h = hashlib.sha256()
for s, _ in zip(sim.open_day().snapshots(), range(120)):
    h.update(s.last_li.tobytes() + s.volume.tobytes())
print(h.hexdigest())
"""


def test_independent_of_the_hash_seed() -> None:
    digests = {
        subprocess.run(
            [sys.executable, "-c", _DIGEST],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(digests) == 1 and len(digests.pop()) == 65


def test_stock_returns_follow_the_window_through_their_betas(
    universe: DemoUniverse, calendar: TradingCalendar
) -> None:
    sim = simulator(universe, calendar, window="2008")
    stocks = np.array([s.kind is Kind.STOCK and not sim.halted[i]
                       for i, s in enumerate(sim.table.securities)])  # fmt: skip
    days = 60
    index = np.empty(days)
    returns = np.empty((days, int(stocks.sum())))
    for k in range(days):
        day = sim.open_day()
        day.closing_snapshot()
        index[k] = day.index_return
        returns[k] = (day.close_li / day.prev_close_li - 1.0)[stocks]
        sim.close_day()
    assert np.array_equal(index, load_window("2008").returns[:days])
    moving = np.abs(index) > 0.005
    same_sign = np.sign(np.median(returns, axis=1)) == np.sign(index)
    assert same_sign[moving].mean() > 0.9
    centred = index - index.mean()
    estimated = centred @ (returns - returns.mean(axis=0)) / (centred @ centred)
    assert np.corrcoef(estimated, sim.beta[stocks])[0, 1] > 0.5


def test_days_wrap_around_the_window(universe: DemoUniverse, calendar: TradingCalendar) -> None:
    few = load_window("2024-01").returns[:3]
    sim = PriceSimulator(
        universe.securities,
        universe.price_li,
        seed=1,
        calendar=calendar,
        start=START,
        index_returns=few,
    )
    seen = []
    for _ in range(5):
        seen.append(sim.open_day().index_return)
        sim.close_day()
    assert seen == [*few, *few[:2]]


def test_bad_inputs_are_refused(universe: DemoUniverse, calendar: TradingCalendar) -> None:
    with pytest.raises(ValueError, match="not a trading day"):
        PriceSimulator.from_universe(universe, seed=1, calendar=calendar, start=date(2025, 1, 4))
    off_tick = {**universe.price_li, "600519.SH": universe.price_li["600519.SH"] + 1}
    with pytest.raises(ValueError, match="on the tick"):
        PriceSimulator(universe.securities, off_tick, seed=1, calendar=calendar, start=START,
                       index_returns=[0.0])  # fmt: skip
    sim = simulator(universe, calendar)
    sim.open_day()
    with pytest.raises(RuntimeError, match="still open"):
        sim.open_day()


def test_a_limit_day_pins_prices_at_the_limit(calendar: TradingCalendar) -> None:
    # A +9.5% index day (as on 2008-09-19) drives high-beta stocks to limit up at the close.
    stocks = [replace(security(f"60{i:04d}"), name=str(i)) for i in range(50)]
    prices = {s.symbol: 10_000 for s in stocks}
    sim = PriceSimulator(stocks, prices, seed=5, calendar=calendar, start=START,
                         index_returns=[0.095])  # fmt: skip
    day = sim.open_day()
    last = stacked(list(day.snapshots()), "last_li")
    assert np.all(last <= 11_000)
    pinned = day.close_li == 11_000
    assert pinned.any() and sim.beta[pinned].mean() > sim.beta[~pinned].mean()

"""The simulated market's index: the CSI 300 level each simulated day closes at, and the
levels a fair value moved by its index reads (RISK-2).

The price simulator moves every security with a real CSI 300 daily move (``prices``): the
k-th trading day of a year (``day_number``, from 0) replays the k-th move of the window
(``index_history.DEFAULT_WINDOW``, wrapping).  So the simulated index closes at the previous
close times that very move, taken exactly from the window's published closes
(``index_move``), rounded half up to the hundredth of a point as the index is published.
The previous close is the latest level known on or before the previous trading day: the
shipped history, then the levels recorded in the store (``store.index_closes``, where the
session records each simulated close with ``source`` = simulated).

Invariants: exact (levels are ``Fraction``s from decimal text, one rounding per close);
the same day gives the same level whoever computes it; a day with no known earlier level is
refused (``LookupError``), never started from a guess.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from datetime import date
from fractions import Fraction
from functools import cache
from types import MappingProxyType

from sqlalchemy import Engine

from liangrong.domain.calendar import TradingCalendar
from liangrong.domain.money import Rounding, round_fraction
from liangrong.risk.fair_values import IndexLevels, index_levels
from liangrong.sim.index_history import DEFAULT_WINDOW, IndexHistory, load_csi300, load_window
from liangrong.store.index_closes import SIMULATED, IndexClose, load_index_closes

INDEX_NAME = "CSI300"
POINT = Fraction(1, 100)  # the index is published to the hundredth of a point


def day_number(calendar: TradingCalendar, day: date) -> int:
    """Which trading day of its year ``day`` is, from 0 (the move it replays)."""
    return calendar.trading_days_between(date(day.year - 1, 12, 31), day) - 1


def index_move(window: IndexHistory, number: int) -> Fraction:
    """The window's ``number``-th daily move (wrapping), close over previous close, exact."""
    levels = index_levels(window.dates, window.close)
    k = number % (len(window) - 1)
    return levels[window.dates[k + 1]] / levels[window.dates[k]]


@cache
def _shipped_levels() -> Mapping[date, Fraction]:
    history = load_csi300()  # ~5,000 closes parsed once, exactly
    return MappingProxyType(index_levels(history.dates, history.close))


def known_levels(store: Engine, name: str = INDEX_NAME) -> dict[date, Fraction]:
    """Every level known: the shipped history, then the store's (which adds later days)."""
    levels = dict(_shipped_levels())
    levels.update({c.trading_date: c.level for c in load_index_closes(store, name)})
    return levels


def _on_or_before(levels: IndexLevels, day: date) -> Fraction:
    days = sorted(levels)
    i = bisect_right(days, day)
    if not i:
        raise LookupError(f"no {INDEX_NAME} level on or before {day}")
    return levels[days[i - 1]]


def simulated_close(
    store: Engine, calendar: TradingCalendar, day: date, recorded_at: str
) -> IndexClose:
    """The simulated index's close of ``day``: the previous close moved as the simulator
    moved the market that day."""
    previous = _on_or_before(known_levels(store), calendar.previous_trading_day(day))
    moved = previous * index_move(load_window(DEFAULT_WINDOW), day_number(calendar, day))
    level = round_fraction(moved / POINT, Rounding.HALF_UP) * POINT
    return IndexClose(INDEX_NAME, day, level, SIMULATED, recorded_at)

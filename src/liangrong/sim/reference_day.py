"""One trading day's reference data read back from the store, and the market views built on
it: the price simulator of the day and the book's ``MarketDay``.

Invariants:
- everything comes from the store (master, calendar, rule book, the firm's lists in force,
  reference prices, the exchange's halts), except the demo's money-market set, which the demo
  universe defines;
- a date that is not a trading day is rolled back to the last trading day before it;
- the reference prices in force on the day are its previous close: the simulator starts from
  them and the book values at them until the first snapshot moves a price;
- the book's daily limits are the simulator's (the same integer formula as the exchanges),
  so the checks and the simulated exchange never disagree on a price band.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cache

from sqlalchemy import Engine

from liangrong.book.market import Halts, MarketDay, build_market_day
from liangrong.domain import margin
from liangrong.domain.calendar import TradingCalendar
from liangrong.domain.fees import FeeSchedule
from liangrong.domain.lists import DailyLists
from liangrong.domain.restrictions import halts_in_force
from liangrong.domain.rule_book import RuleBook, lines_for
from liangrong.domain.securities import Security
from liangrong.sim.concentration_seed import concentration_rule_for
from liangrong.sim.fee_seed import fee_schedule_on
from liangrong.sim.index_history import DEFAULT_WINDOW, load_window
from liangrong.sim.prices import ETF_LIMIT_OVERRIDES, PriceSimulator, TradingDay
from liangrong.sim.simulated_index import day_number
from liangrong.sim.universe import load_demo_universe
from liangrong.store.calendar_loads import CalendarNotLoaded, load_calendar
from liangrong.store.list_publications import load_list_store
from liangrong.store.reference import load_prices, load_securities
from liangrong.store.restrictions import load_halt_events
from liangrong.store.rule_versions import load_rule_book


class NoReferenceData(LookupError):
    """The store lacks what a trading day needs (run ``liangrong demo`` first)."""


@dataclass(frozen=True)
class ReferenceDay:
    trading_date: date
    master: tuple[Security, ...]  # the securities with a reference price, by symbol
    calendar: TradingCalendar
    rule_book: RuleBook
    firm_lists: DailyLists  # the firm's lists in force, cut to the exchange's
    previous_close_li: dict[str, int]
    prices_date: date  # the latest reference price date the previous closes come from
    fees: FeeSchedule
    money_market: frozenset[str]
    halts: Halts  # the exchange's halts in force on the day (restriction events)
    securities: dict[str, Security] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "securities", {s.symbol: s for s in self.master})


@cache
def demo_money_market() -> frozenset[str]:
    return load_demo_universe().money_market


def trading_day_on_or_before(engine: Engine, on: date) -> date:
    try:
        return load_calendar(engine).on_or_before(on)
    except CalendarNotLoaded as exc:
        raise NoReferenceData(f"no calendar in the store: {exc}") from None


def load_reference_day(engine: Engine, on: date) -> ReferenceDay:
    """The reference data in force on the trading day on or before ``on``."""
    try:
        calendar = load_calendar(engine)
    except CalendarNotLoaded as exc:
        raise NoReferenceData(f"no calendar in the store: {exc}") from None
    day = calendar.on_or_before(on)
    try:
        firm_lists = load_list_store(engine, day, day).firm_lists_on(day).lists
    except LookupError as exc:
        raise NoReferenceData(f"no lists in force on {day}: {exc}") from None
    prices = load_prices(engine, day)
    if not prices:
        raise NoReferenceData(f"no reference prices on or before {day}")
    master = tuple(s for s in load_securities(engine) if s.symbol in prices)
    return ReferenceDay(
        trading_date=day,
        master=master,
        calendar=calendar,
        rule_book=load_rule_book(engine),
        firm_lists=firm_lists,
        previous_close_li={s.symbol: prices[s.symbol].price_li for s in master},
        prices_date=max(p.trading_date for p in prices.values()),
        fees=fee_schedule_on(day),
        money_market=demo_money_market(),
        halts=Halts(*halts_in_force(load_halt_events(engine), day)),
    )


def status_lines(ref: ReferenceDay, client_id: str | None) -> margin.Lines:
    """The lines in force for a client that day, as the margin formulas take them."""
    lines = lines_for(ref.rule_book, client_id, ref.trading_date).lines
    return margin.Lines(
        attention=lines.attention,
        warning=lines.warning,
        liquidation=lines.liquidation,
        emergency=lines.emergency,
    )


def price_simulator(ref: ReferenceDay, seed: int) -> PriceSimulator:
    """The seeded simulator starting on the reference day from its previous closes."""
    return PriceSimulator(
        ref.master,
        ref.previous_close_li,
        seed=seed,
        calendar=ref.calendar,
        start=ref.trading_date,
        index_returns=load_window(DEFAULT_WINDOW).returns,
        # The day replays its year's day's move (``simulated_index``): a day's market move
        # is the same whichever day a session started on.
        first_day_number=day_number(ref.calendar, ref.trading_date),
        money_market=ref.money_market,
        limit_overrides=ETF_LIMIT_OVERRIDES,
    )


def market_day(ref: ReferenceDay, day: TradingDay) -> MarketDay:
    """The book's view of the day: the firm's lists and ratios, the simulator's limits."""
    symbols = [s.symbol for s in ref.master]
    down, up = day.limit_down_li.tolist(), day.limit_up_li.tolist()
    limits = {symbol: (down[i], up[i]) for i, symbol in enumerate(symbols)}
    market = build_market_day(
        ref.trading_date,
        ref.master,
        ref.firm_lists,
        ref.rule_book,
        ref.fees,
        ref.previous_close_li,
        limits,
        ref.halts,
        ref.money_market,
    )
    market.prices_at = f"reference prices of {ref.prices_date.isoformat()}"
    market.concentration_rule = concentration_rule_for(ref.trading_date)
    return market


def opening_market(ref: ReferenceDay, seed: int = 0) -> MarketDay:
    """The day's view before its first snapshot (what ``account show`` and ``order check``
    read): previous closes, the day's limits.  Limits do not depend on the seed."""
    return market_day(ref, price_simulator(ref, seed).open_day())

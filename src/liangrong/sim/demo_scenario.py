"""The demo's list history: the exchange's and the demo firm's daily lists for the last few
trading days up to a date, with seeded list events so that the versioning shows (REF-2, REF-3).

Seeded events, on the first publication of a store only (a store that already holds lists
has lived through them; its later days continue from what it published):
- one SSE main-board stock is put under risk warning on the last trading day: it leaves
  both target lists that day and its haircut becomes 0 (the firm's follows);
- one SZSE main-board stock's issuer announces its delisting two trading days earlier: it
  leaves the targets from that day.
The two stocks are picked by a fixed rule from the universe, so the master (their statuses
after the events) is the same whatever date the demo runs for.

Invariants: a pure function of its inputs (universe, calendar, rule book, date, the
store's latest lists): the same inputs give the same lists; the firm's lists are derived
from the exchange's of the same day, so they always fit them; a security listed on one of
the days joins the lists that day (a registration-system IPO as a target too).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from liangrong.domain.calendar import TradingCalendar
from liangrong.domain.lists import (
    DailyLists,
    ListEvent,
    ListEventKind,
    next_exchange_lists,
)
from liangrong.domain.rule_book import RuleBook
from liangrong.domain.securities import Board, Kind, Security, Status
from liangrong.sim.rules_seed import (
    FIRM_FINANCING_PE_LIMIT,
    demo_exchange_lists,
    demo_firm_lists,
)
from liangrong.sim.universe import DemoUniverse

LIST_DAYS = 5  # trading days of lists published on a store's first demo run


@dataclass(frozen=True, slots=True)
class SeededEvent:
    """A list event and the status the master shows from that day."""

    symbol: str
    kind: ListEventKind
    status: Status
    offset: int  # trading days before the last published day (0: that day)


def _candidates(universe: DemoUniverse, board: Board) -> list[str]:
    """Ordinary financing targets of both layers: normal, not a large cap, P/E in (0, 100)."""
    return sorted(
        s.symbol
        for s in universe.securities
        if s.kind is Kind.STOCK
        and s.board is board
        and s.status is Status.NORMAL
        and not s.large_cap_constituent
        and (pe := universe.pe_ratio.get(s.symbol)) is not None
        and 0 < pe < FIRM_FINANCING_PE_LIMIT
    )


def seeded_events(universe: DemoUniverse) -> tuple[SeededEvent, ...]:
    """The demo's two list events, oldest first."""
    return (
        SeededEvent(
            _candidates(universe, Board.SZSE_MAIN)[0],
            ListEventKind.DELISTING_ANNOUNCED,
            Status.DELISTING_PERIOD,
            offset=2,
        ),
        SeededEvent(
            _candidates(universe, Board.SSE_MAIN)[0],
            ListEventKind.RISK_WARNING_IMPOSED,
            Status.RISK_WARNING,
            offset=0,
        ),
    )


def _with_statuses(
    securities: Sequence[Security], statuses: Mapping[str, Status]
) -> tuple[Security, ...]:
    return tuple(
        replace(s, status=statuses[s.symbol]) if s.symbol in statuses else s for s in securities
    )


def demo_master(universe: DemoUniverse) -> tuple[Security, ...]:
    """The master as the store keeps it: the universe after every seeded event."""
    statuses = {event.symbol: event.status for event in seeded_events(universe)}
    return _with_statuses(universe.securities, statuses)


def list_days(calendar: TradingCalendar, on: date, count: int = LIST_DAYS) -> tuple[date, ...]:
    """The ``count`` trading days ending with the last one on or before ``on``."""
    last = calendar.on_or_before(on)
    return tuple(calendar.add_trading_days(last, -n) for n in reversed(range(count)))


def _listing_events(master: Sequence[Security], day: date) -> list[ListEvent]:
    """Securities listed on ``day`` join the lists that day."""
    return [
        ListEvent(
            s.symbol,
            ListEventKind.REGISTRATION_IPO_LISTED
            if s.registration_ipo
            else ListEventKind.COLLATERAL_ADDED,
        )
        for s in master
        if s.listing_date == day
    ]


@dataclass(frozen=True, slots=True)
class ScenarioDay:
    trading_date: date
    exchange: DailyLists
    firm: DailyLists
    events: tuple[ListEvent, ...]  # the seeded ones and listings, as the exchange applied them


def demo_list_history(
    universe: DemoUniverse,
    calendar: TradingCalendar,
    book: RuleBook,
    on: date,
    latest_exchange: DailyLists | None,
) -> tuple[ScenarioDay, ...]:
    """The lists to publish for the demo run on ``on``.

    ``latest_exchange`` is the store's latest exchange lists: None on a first run (the
    last ``LIST_DAYS`` trading days are published, with the seeded events); otherwise only
    the days after it are, continuing from it with the master as stored.
    """
    days = list_days(calendar, on)
    master = demo_master(universe)
    seeded: dict[date, list[SeededEvent]] = {}
    if latest_exchange is None:
        for event in seeded_events(universe):
            seeded.setdefault(days[-1 - event.offset], []).append(event)
        statuses = {event.symbol: Status.NORMAL for event in seeded_events(universe)}
    else:
        days = tuple(day for day in days if day > latest_exchange.trading_date)
        statuses = {}
    pe, cash = universe.pe_ratio, universe.money_market
    history: list[ScenarioDay] = []
    previous = latest_exchange
    for day in days:
        statuses.update({event.symbol: event.status for event in seeded.get(day, [])})
        today = _with_statuses(master, statuses)  # the master as of ``day``
        version = book.exchange.version_at(day)
        if version is None:
            raise LookupError(f"no exchange rules in force on {day}")
        events = [ListEvent(e.symbol, e.kind) for e in seeded.get(day, [])]
        events += _listing_events(today, day)
        if previous is None:
            exchange = demo_exchange_lists(day, today, pe, version.value, cash)
            events = []  # the first day's lists already show the day's state
        else:
            exchange = next_exchange_lists(previous, day, today, pe, version.value, events, cash)
        firm = demo_firm_lists(exchange, today, pe)
        history.append(ScenarioDay(day, exchange, firm, tuple(events)))
        previous = exchange
    return tuple(history)

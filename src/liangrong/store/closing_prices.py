"""A trading day's closing prices, recorded when its session closes (the end of day values
the book at them and the exchange daily report prints them).

Reads: the closes of one day, and each symbol's last close before (or on) a day, in bulk
(``last_closes``): the reference close of a fair value (RISK-2), e.g. the last close before
a suspension began, however many days the suspension has lasted.

Invariants: append-only, one price per symbol and day; saving the same prices again records
nothing, another price for a symbol and day already recorded is refused
(``ClosingPriceConflict``) and nothing of that call is written.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine, and_, func, select

from liangrong.store.eod_tables import closing_prices
from liangrong.store.reference import ReferenceConflict, write_lock

SESSION = "session"


class ClosingPriceConflict(ReferenceConflict):
    """A symbol's close of a day was recorded with another price."""


def save_closing_prices(
    engine: Engine, trading_date: date, prices_li: Mapping[str, int], source: str = SESSION
) -> int:
    """Record the day's closes; returns how many were new."""
    table = closing_prices
    with write_lock(engine) as conn:
        stored = {
            row.symbol: row.price_li
            for row in conn.execute(select(table).where(table.c.trading_date == trading_date))
        }
        clash = sorted(x for x, p in prices_li.items() if x in stored and stored[x] != p)
        if clash:
            raise ClosingPriceConflict(f"closes of {trading_date} already recorded: {clash[:5]}")
        new = [
            {"symbol": x, "trading_date": trading_date, "price_li": p, "source": source}
            for x, p in sorted(prices_li.items())
            if x not in stored
        ]
        if new:
            conn.execute(table.insert(), new)
    return len(new)


def load_closing_prices(engine: Engine, trading_date: date) -> dict[str, int]:
    """The day's recorded closes (empty when no session closed that day)."""
    table = closing_prices
    with engine.connect() as conn:
        rows = conn.execute(
            select(table.c.symbol, table.c.price_li).where(table.c.trading_date == trading_date)
        )
        return {symbol: price for symbol, price in rows}


@dataclass(frozen=True, slots=True)
class DatedClose:
    """A symbol's close and the trading day it is the close of."""

    trading_date: date
    price_li: int


_CHUNK = 500  # symbols per query: well under every dialect's limit on bound parameters


def last_closes(
    engine: Engine, symbols: Iterable[str], day: date, *, inclusive: bool = False
) -> dict[str, DatedClose]:
    """Each symbol's latest recorded close strictly before ``day`` (``inclusive``: on or
    before it); a symbol without one is absent.  One query per ``_CHUNK`` symbols: the
    latest date per symbol (the primary key's order), joined back to its price."""
    table = closing_prices
    cutoff = table.c.trading_date <= day if inclusive else table.c.trading_date < day
    wanted = sorted(set(symbols))
    found: dict[str, DatedClose] = {}
    with engine.connect() as conn:
        for lo in range(0, len(wanted), _CHUNK):
            latest = (
                select(table.c.symbol, func.max(table.c.trading_date).label("latest"))
                .where(cutoff, table.c.symbol.in_(wanted[lo : lo + _CHUNK]))
                .group_by(table.c.symbol)
                .subquery()
            )
            rows = conn.execute(
                select(table.c.symbol, table.c.trading_date, table.c.price_li).join(
                    latest,
                    and_(
                        table.c.symbol == latest.c.symbol,
                        table.c.trading_date == latest.c.latest,
                    ),
                )
            )
            found.update({symbol: DatedClose(on, price) for symbol, on, price in rows})
    return found


def last_closes_before(
    engine: Engine, cutoffs: Mapping[str, date], *, inclusive: bool = False
) -> dict[str, DatedClose]:
    """``last_closes`` with a day per symbol (e.g. each suspended security's first day of
    suspension: the close strictly before it is its last traded close)."""
    by_day: dict[date, list[str]] = defaultdict(list)
    for symbol, day in cutoffs.items():
        by_day[day].append(symbol)
    found: dict[str, DatedClose] = {}
    for day, symbols in sorted(by_day.items()):
        found.update(last_closes(engine, symbols, day, inclusive=inclusive))
    return found

"""A trading day's closing prices, recorded when its session closes (the end of day values
the book at them and the exchange daily report prints them).

Invariants: append-only, one price per symbol and day; saving the same prices again records
nothing, another price for a symbol and day already recorded is refused
(``ClosingPriceConflict``) and nothing of that call is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlalchemy import Engine, select

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

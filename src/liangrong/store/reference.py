"""The reference data in the store (REF-1..REF-5): the securities master and reference
prices here; calendar loads, rule versions and list publications in their own modules
(``calendar_loads``, ``rule_versions``, ``list_publications``), which share the helpers here.

Invariants:
- every function takes the engine (and, when it records a time, the clock) explicitly;
- every save is idempotent: saving what is already stored changes nothing and reports 0
  (or None); saving a different value under a key already recorded (a rule version id, a
  list publication date, a price of a day) is refused with a ``ReferenceConflict``
  subclass, and nothing of that call is written (one transaction);
- a write holds the store's reference write lock (SQLite: BEGIN IMMEDIATE, taken by
  ``open_engine``; PostgreSQL: an advisory lock), so the checks and the insert see the same
  state;
- the master is the current state, one row per symbol: a security is never deleted
  (delisting is a status), and its generated attributes are kept by name.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, and_, func, select, text

from liangrong.domain.securities import Board, Exchange, Kind, Security, Status
from liangrong.store import schema as s

Clock = Callable[[], datetime]
_REFERENCE_LOCK = 7172  # PostgreSQL advisory lock key; the ledger's is 7171


class ReferenceConflict(ValueError):
    """A key already recorded with another value: recorded reference data is not rewritten."""


class PriceConflict(ReferenceConflict):
    """A reference price of the same symbol and day was recorded with another value."""


@contextmanager
def write_lock(engine: Engine) -> Iterator[Connection]:
    """One transaction holding the reference-data write lock until it commits."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _REFERENCE_LOCK})
        yield conn


def stamp(clock: Clock) -> str:
    """A recorded-at time, as the ledger writes it."""
    return clock().isoformat(timespec="microseconds")


def digest(document: object) -> str:
    """sha256 of the canonical JSON of ``document``."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- securities


def _security_row(security: Security) -> dict[str, Any]:
    return {
        "symbol": security.symbol,
        "code": security.code,
        "exchange": security.exchange.value,
        "name": security.name,
        "board": security.board.value,
        "kind": security.kind.value,
        "total_shares": security.total_shares,
        "float_shares": security.float_shares,
        "listing_date": security.listing_date,
        "registration_ipo": security.registration_ipo,
        "status": security.status.value,
        "large_cap_constituent": security.large_cap_constituent,
        "generated": ",".join(sorted(security.generated)),
    }


def _security(row: Row[Any]) -> Security:
    return Security(
        code=row.code,
        exchange=Exchange(row.exchange),
        name=row.name,
        board=Board(row.board),
        kind=Kind(row.kind),
        total_shares=row.total_shares,
        float_shares=row.float_shares,
        listing_date=row.listing_date,
        registration_ipo=bool(row.registration_ipo),
        status=Status(row.status),
        large_cap_constituent=bool(row.large_cap_constituent),
        generated=frozenset(filter(None, row.generated.split(","))),
    )


def save_securities(engine: Engine, securities: Iterable[Security]) -> int:
    """Insert new securities and update changed ones (the master's current state); returns
    how many rows were inserted or changed.  A security is never deleted: delisting is a
    status."""
    wanted = {security.symbol: security for security in securities}
    with write_lock(engine) as conn:
        stored = {row.symbol: _security(row) for row in conn.execute(select(s.securities))}
        new = [_security_row(x) for symbol, x in sorted(wanted.items()) if symbol not in stored]
        changed = [
            _security_row(x)
            for symbol, x in sorted(wanted.items())
            if symbol in stored and stored[symbol] != x
        ]
        if new:
            conn.execute(s.securities.insert(), new)
        for row in changed:
            conn.execute(
                s.securities.update().where(s.securities.c.symbol == row["symbol"]).values(row)
            )
    return len(new) + len(changed)


def load_securities(engine: Engine) -> tuple[Security, ...]:
    """The master, ordered by symbol."""
    with engine.connect() as conn:
        rows = conn.execute(select(s.securities).order_by(s.securities.c.symbol))
        return tuple(_security(row) for row in rows)


# --------------------------------------------------------------------------- prices


@dataclass(frozen=True, slots=True)
class ReferencePrice:
    symbol: str
    trading_date: date
    price_li: int
    generated: bool  # a demo price, not a market price


def save_prices(
    engine: Engine, trading_date: date, prices: Mapping[str, int], *, generated: bool
) -> int:
    """Record each symbol's reference price of ``trading_date``; returns how many were new."""
    table = s.reference_prices
    with write_lock(engine) as conn:
        stored = {
            row.symbol: (row.price_li, bool(row.generated))
            for row in conn.execute(select(table).where(table.c.trading_date == trading_date))
        }
        for symbol, price in sorted(prices.items()):
            if symbol in stored and stored[symbol] != (price, generated):
                raise PriceConflict(
                    f"{symbol} on {trading_date}: recorded {stored[symbol]}, "
                    f"now {(price, generated)}"
                )
        new = [
            {"symbol": x, "trading_date": trading_date, "price_li": p, "generated": generated}
            for x, p in sorted(prices.items())
            if x not in stored
        ]
        if new:
            conn.execute(table.insert(), new)
    return len(new)


def load_prices(engine: Engine, on: date) -> dict[str, ReferencePrice]:
    """Each symbol's latest reference price on or before ``on``."""
    table = s.reference_prices
    latest = (
        select(table.c.symbol, func.max(table.c.trading_date).label("trading_date"))
        .where(table.c.trading_date <= on)
        .group_by(table.c.symbol)
        .subquery()
    )
    query = select(table).join(
        latest,
        and_(table.c.symbol == latest.c.symbol, table.c.trading_date == latest.c.trading_date),
    )
    with engine.connect() as conn:
        return {
            row.symbol: ReferencePrice(
                row.symbol, row.trading_date, row.price_li, bool(row.generated)
            )
            for row in conn.execute(query)
        }

"""The margin desk over the store's book on a trading day, for the ``risk`` and
``liquidate`` commands: every generated client's profile, the day's reference prices (its
previous close) and the risk engine loaded from the ledger.

Invariants: read only unless a clock is handed in (``_no_clock`` refuses to be read, so a
plan or a summary can never post); the figures name the price time they used.
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import Engine

from liangrong.book.accounts import ClientProfile
from liangrong.book.loader import load_mirrors
from liangrong.book.service import Book
from liangrong.desk.service import Clock, Desk
from liangrong.ledger.journal import Ledger
from liangrong.sim.book_generator import book_profiles, profiles_on, stored_marker
from liangrong.sim.reference_day import ReferenceDay, load_reference_day, opening_market
from liangrong.sim.session import CST


class NoBook(LookupError):
    """The store holds no generated book."""


def _no_clock() -> datetime:
    raise RuntimeError("read only: this view posts nothing")


def open_desk(engine: Engine, on: date, clock: Clock | None = None) -> tuple[Desk, ReferenceDay]:
    """A desk over every generated client, valued at the day's opening (reference) prices."""
    marker = stored_marker(engine)
    if marker is None:
        raise NoBook("no generated book in this store: run `liangrong demo` or `simulate`")
    ref = load_reference_day(engine, on)
    plans: list[ClientProfile] = list(book_profiles(engine, marker, ref).profiles)
    market = opening_market(ref)
    ledger = Ledger(engine, clock or _no_clock)
    book = Book.open(engine, ledger, market, ref.calendar)
    mirrors = load_mirrors(engine, [p.client_id for p in plans])
    for profile in profiles_on(engine, plans, ref.trading_date):
        book.add_client(profile, mirrors[profile.client_id])
    opening = datetime.combine(ref.trading_date, time(9, 15), CST)
    desk = Desk.open(
        engine, book, clock or (lambda: opening), prices_at=opening, recording=clock is not None
    )
    return desk, ref

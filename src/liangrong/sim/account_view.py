"""One credit account as the store holds it now, valued at a trading day's reference prices:
what ``liangrong account show`` prints and what ``liangrong order check`` checks against.

Invariants:
- read only: the ledger handed to the book has a clock that refuses to be read, so nothing
  can be posted (a check holds reservations in memory only, and they die with the process);
- balances and contracts are the ledger's projections now; prices are the reference prices
  in force on the day (its previous close), and the view names them (``prices_at``);
- the figures are the book's own valuation (``book.accounts``) over the exchange formulas of
  ``domain.margin``; the profile (limits, status, bans) is the generated book's, planned again
  from the store's marker, or a placeholder without credit when the client was not generated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction

from sqlalchemy import Engine, func, select

from liangrong.book.accounts import ClientProfile, margin_account, withdrawal_headroom_li
from liangrong.book.loader import load_mirrors
from liangrong.book.market import MarketDay
from liangrong.book.mirror import ClientMirror
from liangrong.book.service import Book
from liangrong.domain import margin
from liangrong.domain.order_codes import OrderCode
from liangrong.domain.orders import Order
from liangrong.domain.pretrade_state import AccountState
from liangrong.domain.reservations import Reservation
from liangrong.domain.rule_book import terms_for
from liangrong.ledger import schema as s
from liangrong.ledger.journal import Ledger
from liangrong.sim.book_generator import client_profile, profiles_on
from liangrong.sim.client_plans import NO_CONCENTRATION_LIMIT
from liangrong.sim.reference_day import ReferenceDay, load_reference_day, opening_market
from liangrong.sim.reference_day import status_lines as lines_of


class UnknownAccount(LookupError):
    """No credit account of this client in the store."""


def _no_clock() -> datetime:
    raise RuntimeError("read only: this view posts nothing to the ledger")


@dataclass(frozen=True)
class AccountView:
    client_id: str
    holder_name: str
    opened: tuple[tuple[str, date], ...]  # (exchange, opened on)
    profile: ClientProfile
    generated: bool  # False: a placeholder profile (no credit limits known)
    ref: ReferenceDay
    market: MarketDay
    mirror: ClientMirror
    state: AccountState
    account: margin.Account
    lines: margin.Lines
    withdrawal_line: Fraction
    journal_seq: int  # the ledger as of this transaction

    @property
    def ratio(self) -> Fraction | None:
        return margin.maintenance_ratio(self.account)

    @property
    def status(self) -> margin.RatioStatus:
        return margin.ratio_status(self.ratio, self.lines)

    @property
    def available_margin_fen(self) -> Fraction:
        return margin.available_margin(self.account)

    @property
    def withdrawable_li(self) -> int:
        return withdrawal_headroom_li(self.mirror, self.market, self.withdrawal_line)


def _credit_accounts(engine: Engine, client: str) -> tuple[str, tuple[tuple[str, date], ...]]:
    table = s.credit_accounts
    with engine.connect() as conn:
        rows = conn.execute(
            select(table.c.exchange, table.c.holder_name, table.c.opened_on)
            .where(table.c.client_id == client)
            .order_by(table.c.exchange)
        ).all()
    if not rows:
        raise UnknownAccount(f"no credit account of {client} in this store")
    return rows[0].holder_name, tuple((row.exchange, row.opened_on) for row in rows)


def _journal_seq(engine: Engine) -> int:
    with engine.connect() as conn:
        value = conn.execute(select(func.max(s.journal_transactions.c.seq))).scalar_one()
    return int(value or 0)


def load_account(engine: Engine, client: str, on: date) -> AccountView:
    """The account now, valued on the trading day on or before ``on``."""
    name, opened = _credit_accounts(engine, client)
    ref = load_reference_day(engine, on)
    market = opening_market(ref)
    planned = client_profile(engine, client)
    generated = planned is not None
    if planned is None:
        planned = ClientProfile(client, name, 0, 0, 0, NO_CONCENTRATION_LIMIT)
    (profile,) = profiles_on(engine, [planned], ref.trading_date)
    book = _book(engine, ref, market, profile)
    mirror = book.mirrors[client]
    return AccountView(
        client_id=client,
        holder_name=name,
        opened=opened,
        profile=profile,
        generated=generated,
        ref=ref,
        market=market,
        mirror=mirror,
        state=book.states[client],
        account=margin_account(mirror, market),
        lines=lines_of(ref, client),
        withdrawal_line=terms_for(ref.rule_book, client, ref.trading_date).withdrawal_line,
        journal_seq=_journal_seq(engine),
    )


def _book(engine: Engine, ref: ReferenceDay, market: MarketDay, profile: ClientProfile) -> Book:
    book = Book.open(engine, Ledger(engine, _no_clock), market, ref.calendar)
    client = profile.client_id
    book.add_client(profile, load_mirrors(engine, [client])[client])
    return book


def check_order(engine: Engine, view: AccountView, order: Order) -> OrderCode | Reservation:
    """The book's decision on ``order`` against the stored state: its code, or what it
    would hold.  Nothing is sent and nothing is posted."""
    book = _book(engine, view.ref, view.market, view.profile)
    ack = book.submit(order)
    if ack.code is not None:
        return ack.code
    return book.orders[order.order_id].held

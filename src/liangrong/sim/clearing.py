"""The simulated clearing and depository side (中国结算, CSDC): its own record of the
positions the firm holds at the depository, for the daily reconciliation (ACC-7).

The depository holds, in the firm's name, the lending pool (融券专用证券账户), the
client-collateral securities account (客户信用交易担保证券账户) with one credit securities
account per client and exchange as its sub-accounts, and the credit securities settlement
account (信用交易证券交收账户).  They are named here as the ledger names them
(``domain.accounts``): ``firm:lending_pool``, ``firm:collateral_securities:{client}:{SH|SZ}``,
``firm:securities_settlement``.

What the record is built from, and nothing else (never the firm's ledger after the opening):
- the opening delivery: the positions both sides agree on when the book is created (the
  generated book's ``book:`` transactions), or the house's own file of the last day it
  recorded (``resume``);
- the exchange's fills (``on_fill``), with the order as it went on the wire (credit account,
  credit trade type): a short sale is delivered out of the lending pool, a buy to cover (or
  the firm's forced buy) goes straight into it (S1 art. 76: 买券还券 … 直接将买入的证券划转
  至公司融券专用证券账户), every other trade moves the client's credit securities account;
- the firm's securities transfer instructions (``on_transfer``, S2 art. 18): collateral in
  from the client's ordinary account, collateral out to it, a direct return from the client's
  credit account into the lending pool.

Settlement as the ledger models it: A-share securities are delivered on the trade date
(T+0 delivery at the day's settlement; T+1 is a restriction on selling, which the book
keeps), so the positions at the close of day D include D's fills.  The day's cash side is
netted per client as the firm's clearing sends it to the bank (S2 art. 17: the bank changes
the client's credit fund account from the clearing and settlement results): trade amount
less or plus the fill's fees (commission, stamp duty, transfer fee, on the order's
cumulative value: ``fees.fill_fees`` under the dated schedule handed in); a margin buy is
paid by the financing pool, not by the client.

Invariants: a trade id or an instruction reference is applied once (a repeat changes
nothing and returns False); positions change only by the events above; a delivery the record
cannot cover is recorded all the same (the position goes negative) so that the
reconciliation lists it instead of the simulation stopping.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, Engine, and_, or_, select
from sqlalchemy import func as sql

from liangrong.domain import accounts as acc
from liangrong.domain.fees import FeeSchedule, fill_fees
from liangrong.domain.money import trade_amount_fen
from liangrong.domain.orders import NonTradeKind, NonTradeRequest, Order, OrderKind, Side
from liangrong.ledger import schema as s
from liangrong.sim.exchange import Fill
from liangrong.store.clearing_records import (
    CLEARING,
    Position,
    latest_received_before,
    load_clearing_file,
)

BOOK_PREFIX = "book:"  # command ids of the generated book: the opening delivery
CLIENT_SECURITIES_PREFIX = "firm:collateral_securities:"
DEPOSITORY_FIRM_ACCOUNTS = (acc.LENDING_POOL, acc.SECURITIES_SETTLEMENT)
_INTO_LENDING_POOL = frozenset({OrderKind.BUY_TO_COVER, OrderKind.FORCED_BUY})
_TRANSFERS = frozenset({NonTradeKind.TRANSFER_IN, NonTradeKind.TRANSFER_OUT,
                        NonTradeKind.DIRECT_RETURN})  # fmt: skip


def depository_filter(account: ColumnElement[str]) -> ColumnElement[bool]:
    """SQL: ``account`` is held at the depository (the ledger's names of its accounts)."""
    return or_(
        s.starts_with(account, CLIENT_SECURITIES_PREFIX), account.in_(DEPOSITORY_FIRM_ACCOUNTS)
    )


def opening_sums(
    engine: Engine, accounts: ColumnElement[bool], asset: ColumnElement[bool], prefix: str
) -> dict[tuple[str, str], int]:
    """Sums per (account, asset) of the postings of the transactions whose command id starts
    with ``prefix``: the opening both sides agree on when the book is created."""
    t, p = s.journal_transactions, s.journal_postings
    query = (
        select(p.c.account, p.c.asset, sql.sum(p.c.amount))
        .join(t, t.c.seq == p.c.txn_seq)
        .where(and_(t.c.command_id.like(prefix + "%"), accounts, asset))
        .group_by(p.c.account, p.c.asset)
    )
    with engine.connect() as conn:
        return {(a, x): int(n) for a, x, n in conn.execute(query) if n}


@dataclass(frozen=True)
class ClearingDay:
    """What the clearing side sends at the close of a day."""

    trading_date: date
    positions: dict[Position, int]  # non-zero positions at the close, shares
    cash_by_client: dict[str, int]  # each client's net cash settlement of the day, fen


def _exchange_of(symbol: str) -> str:
    return symbol.rsplit(".", 1)[1]


class ClearingHouse:
    """The depository's record, one trading day open at a time."""

    def __init__(self, positions: Mapping[Position, int]) -> None:
        self._positions: Counter[Position] = Counter({k: q for k, q in positions.items() if q})
        self._day: date | None = None
        self._fees: FeeSchedule | None = None
        self._applied: set[str] = set()
        self._filled_li: Counter[str] = Counter()  # per order id: the value filled today
        self._cash: Counter[str] = Counter()

    @classmethod
    def resume(cls, engine: Engine, day: date, opening_prefix: str = BOOK_PREFIX) -> ClearingHouse:
        """The house as it stood at the close of the last day before ``day`` it recorded a
        file for, or, before its first file, with the book's opening delivery."""
        with engine.connect() as conn:
            last = latest_received_before(conn, CLEARING, day)
            recorded = load_clearing_file(conn, last) if last is not None else None
        if recorded is not None:
            return cls(recorded)
        p = s.journal_postings
        opening = opening_sums(
            engine, depository_filter(p.c.account), p.c.asset != acc.CASH_ASSET, opening_prefix
        )
        return cls(opening)

    # --- the day ---------------------------------------------------------------------------

    def open_day(self, day: date, fees: FeeSchedule) -> None:
        """Start ``day``; ``fees`` is the schedule in force that day."""
        if self._day is not None:
            raise RuntimeError(f"{self._day} is still open: close it first")
        self._day, self._fees = day, fees
        self._filled_li.clear()
        self._cash.clear()

    def close_day(self) -> ClearingDay:
        day = self._require_day()
        result = ClearingDay(
            day,
            {k: q for k, q in sorted(self._positions.items()) if q},
            {c: n for c, n in sorted(self._cash.items()) if n},
        )
        self._day, self._fees = None, None
        return result

    def position(self, account: str, symbol: str) -> int:
        return self._positions[(account, symbol)]

    # --- events ----------------------------------------------------------------------------

    def on_fill(self, fill: Fill, order: Order) -> bool:
        """Settle one exchange fill of ``order`` (as sent: credit account and trade type)."""
        day = self._require_day()
        if fill.day != day or fill.order_id != order.order_id or fill.symbol != order.symbol:
            raise ValueError(f"fill {fill.trade_id} is not of order {order.order_id} on {day}")
        if not self._first(f"fill:{fill.trade_id}"):
            return False
        client, kind = order.account_id, order.kind
        own = acc.client_securities(client, _exchange_of(fill.symbol))
        if kind is OrderKind.SHORT_SELL:
            self._move(acc.LENDING_POOL, fill.symbol, -fill.quantity)
        elif kind in _INTO_LENDING_POOL:
            self._move(acc.LENDING_POOL, fill.symbol, fill.quantity)
        else:
            sign = 1 if fill.side is Side.BUY else -1
            self._move(own, fill.symbol, sign * fill.quantity)
        self._cash[client] += self._client_cash_fen(fill, kind)
        return True

    def _client_cash_fen(self, fill: Fill, kind: OrderKind) -> int:
        """What the fill moves in the client's credit fund account: paid for a buy (amount
        and fees), received for a sale (amount less fees); nothing for a margin buy."""
        assert self._fees is not None
        value_li = fill.quantity * fill.price_li
        before = self._filled_li[fill.order_id]
        self._filled_li[fill.order_id] = before + value_li
        if kind is OrderKind.MARGIN_BUY:
            return 0
        fees = fill_fees(fill.side, before, value_li, self._fees).total_fen
        amount = trade_amount_fen(fill.quantity, fill.price_li)
        return -(amount + fees) if fill.side is Side.BUY else amount - fees

    def on_transfer(
        self, kind: NonTradeKind, client_id: str, symbol: str, quantity: int, reference: str
    ) -> bool:
        """One of the firm's securities transfer instructions: collateral in or out between
        the client's ordinary and credit accounts, or a direct return into the lending pool."""
        self._require_day()
        if kind not in _TRANSFERS or quantity <= 0:
            raise ValueError(f"{kind.value} of {quantity} is not a securities transfer")
        if not self._first(f"transfer:{reference}"):
            return False
        own = acc.client_securities(client_id, _exchange_of(symbol))
        if kind is NonTradeKind.TRANSFER_IN:
            self._move(own, symbol, quantity)
        else:
            self._move(own, symbol, -quantity)
        if kind is NonTradeKind.DIRECT_RETURN:
            self._move(acc.LENDING_POOL, symbol, quantity)
        return True

    def on_request(self, request: NonTradeRequest) -> bool:
        """The instruction of a non-trade request the firm accepted, when it moves securities
        (transfers in and out, direct returns); other kinds are not the depository's."""
        if request.kind not in _TRANSFERS:
            return False
        return self.on_transfer(
            request.kind, request.account_id, request.symbol, request.quantity, request.request_id
        )

    # --- helpers ---------------------------------------------------------------------------

    def _first(self, key: str) -> bool:
        if key in self._applied:
            return False
        self._applied.add(key)
        return True

    def _move(self, account: str, symbol: str, quantity: int) -> None:
        self._positions[(account, symbol)] += quantity

    def _require_day(self) -> date:
        if self._day is None:
            raise RuntimeError("no trading day is open")
        return self._day
